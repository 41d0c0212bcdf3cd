// The leaderboard of one assignment: each accuracy question's best hidden-set accuracy
// per student, under pseudonyms; the viewer's own row says "you".

import { api } from "./api.js";
import { h } from "./dom.js";

export async function leaderboardPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const board = await api(`/assignments/${encodeURIComponent(id)}/leaderboard`);
  page.append(h("h1", {}, `Leaderboard: ${id}`),
    board.enabled ? "" : h("p", { class: "msg", id: "leaderboard-off" }, "Students do not see this leaderboard: turn it on in the assignment's settings."));
  if (!board.questions.length) {
    page.append(h("p", {}, "No accuracy has been measured yet."));
    return;
  }
  for (const q of board.questions) {
    page.append(h("section", { class: "card wide" }, h("h2", {}, `${q.question_id}: ${q.title}`),
      h("div", { class: "table-scroll" }, h("table", { class: "leaderboard", dataset: { question: q.question_id } },
        h("thead", {}, h("tr", {}, ["Rank", "Student", "Accuracy on the hidden images"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, q.entries.map((e) => h("tr", { class: e.you ? "you" : "" },
          h("td", { class: "num" }, String(e.rank)), h("td", {}, e.name),
          h("td", { class: "num" }, `${(100 * e.accuracy).toFixed(1)}%`))))))));
  }
}
