// The leaderboard of one assignment: each accuracy question's best hidden-set accuracy
// per student, under pseudonyms; the viewer's own row says "you".

import { api, isStaff, session } from "./api.js";
import { clear, h, message } from "./dom.js";

export async function leaderboardPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const board = await api(`/assignments/${encodeURIComponent(id)}/leaderboard`);
  page.append(h("h1", {}, `Leaderboard: ${id}`),
    board.enabled ? "" : h("p", { class: "msg", id: "leaderboard-off" }, "Students do not see this leaderboard: turn it on in the assignment's settings."));
  if (!board.questions.length) {
    page.append(h("p", {}, "No accuracy has been measured yet."));
    return;
  }
  const staff = isStaff(session.me);
  for (const q of board.questions) {
    page.append(h("section", { class: "card wide", dataset: { question: q.question_id } }, h("h2", {}, `${q.question_id}: ${q.title}`),
      staff ? shownToggle(id, board, q) : "",
      h("div", { class: "table-scroll" }, h("table", { class: "leaderboard", dataset: { question: q.question_id } },
        h("thead", {}, h("tr", {}, ["Rank", "Student", "Accuracy on the hidden images"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, q.entries.map((e) => h("tr", { class: e.you ? "you" : "" },
          h("td", { class: "num" }, String(e.rank)), h("td", {}, e.name),
          h("td", { class: "num" }, `${(100 * e.accuracy).toFixed(1)}%`))))))));
  }
}

// Staff opt each question in or out; the board students see lists only those opted in.
function shownToggle(id, board, q) {
  const box = h("input", { type: "checkbox", checked: q.shown, "aria-label": `show ${q.question_id} to students` });
  const status = h("span", { class: "form-status" });
  box.addEventListener("change", async () => {
    q.shown = box.checked;
    const shown = board.questions.filter((x) => x.shown).map((x) => x.question_id);
    clear(status);
    try {
      await api(`/assignments/${encodeURIComponent(id)}`, { method: "PATCH",
        json: { leaderboard_questions: shown.length === board.questions.length ? null : shown } });
      status.append(message(box.checked ? "Shown to students." : "Hidden from students."));
    } catch (err) {
      box.checked = q.shown = !box.checked;
      status.append(message(err.message, "error"));
    }
  });
  return h("label", { class: "inline" }, box, " On the students' leaderboard", status);
}
