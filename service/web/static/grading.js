// Grading one question across every submission that counts, by keyboard: n / p (or
// the buttons) move between submissions, the digit keys 1-9 apply or remove rubric
// items. An item is points and a comment; editing one re-scores every submission it
// is applied to.

import { api } from "./api.js";
import { clear, h, message, points } from "./dom.js";

const enc = encodeURIComponent;

export async function gradingPage(page, [rawId, rawQuestion]) {
  const id = decodeURIComponent(rawId);
  const qid = decodeURIComponent(rawQuestion);
  let view = await api(`/assignments/${enc(id)}/questions/${enc(qid)}/grading`);
  let at = Math.max(0, view.submissions.findIndex((s) => s.points === null));
  const status = h("div", { id: "grading-status", "aria-live": "polite" });
  const progress = h("p", { id: "graded-count", class: "muted" });
  const current = h("section", { class: "card wide", id: "current", "aria-live": "polite" });
  const rubric = h("section", { class: "card wide", id: "rubric" });
  page.append(h("h1", {}, `Grade ${qid}: ${view.title}`),
    h("p", { class: "muted" }, `${id} · ${points(view.max_points)} points · `,
      h("a", { href: `#/gradebook/${enc(id)}` }, "Gradebook"),
      " · keys: n next, p previous, 1-9 apply or remove an item"),
    progress, status, blindBar(), current, rubric);

  function blindBar() {
    if (!view.blind) return "";
    const bar = h("p", { id: "blind-bar", class: "msg" }, "Graded blind: students appear as pseudonyms. ");
    bar.append(h("button", { type: "button", id: "reveal-names", onclick: async () => {
      if (!window.confirm(`Reveal the students' names for every question of ${id}?`)) return;
      try {
        await api(`/assignments/${enc(id)}`, { method: "PATCH", json: { blind_grading: false } });
        view = await api(`/assignments/${enc(id)}/questions/${enc(qid)}/grading`);
        bar.remove();
        draw();
      } catch (err) {
        status.append(message(err.message, "error"));
      }
    } }, "Reveal names"));
    return bar;
  }

  const act = async (what, fn) => {
    clear(status);
    try {
      view = await fn();
      draw();
    } catch (err) {
      status.append(message(`${what}: ${err.message}`, "error"));
    }
  };
  const toggle = (item) => {
    const s = view.submissions[at];
    if (!s) return;
    const on = !s.applied.includes(item.id);
    act("Applying the item", () => api(`/submissions/${enc(s.submission_id)}/rubric/${enc(item.id)}`,
      { method: "PUT", json: { on } }));
  };
  const move = (step) => {
    if (!view.submissions.length) return;
    at = (at + step + view.submissions.length) % view.submissions.length;
    draw();
    current.querySelector("h2")?.focus();
  };

  function draw() {
    progress.textContent = `${view.graded} of ${view.submissions.length} graded`;
    clear(current);
    const s = view.submissions[at];
    if (!s) {
      current.append(h("h2", { tabindex: "-1" }, "No graded submissions yet"));
    } else {
      current.append(h("h2", { tabindex: "-1" }, `${s.student}${s.group ? ` (${s.group})` : ""}`,
          h("span", { class: "muted" }, ` · ${at + 1} of ${view.submissions.length}`)),
        h("p", { class: "score", id: "current-points" },
          s.points === null ? "not graded yet" : `${points(s.points)} / ${points(view.max_points)}`),
        s.comment ? h("p", { class: "muted", id: "current-comment" }, s.comment) : "",
        h("p", {}, h("a", { href: `#/submission/${enc(s.submission_id)}${view.blind ? "?blind" : ""}` }, "Open the submission"), " · ",
          h("button", { type: "button", id: "previous", onclick: () => move(-1) }, "Previous (p)"), " ",
          h("button", { type: "button", id: "next", onclick: () => move(1) }, "Next (n)")),
        h("fieldset", { class: "items" }, h("legend", {}, "Rubric items applied"),
          view.items.length ? view.items.map((item, i) => h("label", { class: "item" },
            h("input", { type: "checkbox", checked: s.applied.includes(item.id), dataset: { item: i + 1 },
              onchange: () => toggle(item) }),
            ` ${i + 1}. ${item.points > 0 ? "+" : ""}${points(item.points)} ${item.comment}`))
            : h("p", { class: "muted" }, "No rubric items yet: add one below.")));
    }
    drawRubric();
  }

  function drawRubric() {
    clear(rubric).append(h("h2", {}, "Rubric"));
    const list = h("ol", { id: "rubric-items" });
    for (const item of view.items) {
      const pts = h("input", { type: "number", step: "any", value: item.points, "aria-label": `Points of item ${item.comment}` });
      const text = h("input", { type: "text", value: item.comment, "aria-label": `Comment of item ${item.comment}` });
      const form = h("form", { class: "item-edit", dataset: { edit: item.comment } }, pts, text,
        h("button", { type: "submit" }, "Save"), h("span", { class: "muted" }, ` applied to ${item.applied_to}`));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        act("Editing the item", () => api(`/rubric/${enc(item.id)}`,
          { method: "PATCH", json: { points: Number(pts.value), comment: text.value } }));
      });
      list.append(h("li", {}, form));
    }
    const pts = h("input", { type: "number", step: "any", id: "new-item-points", required: true, "aria-label": "Points of the new item" });
    const text = h("input", { type: "text", id: "new-item-comment", required: true, "aria-label": "Comment of the new item",
      placeholder: "e.g. derivation of the hidden layer's delta correct" });
    const add = h("form", { id: "new-item" }, h("h3", {}, "Add an item"), pts, text, h("button", { type: "submit" }, "Add"));
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      act("Adding the item", async () => {
        await api(`/assignments/${enc(id)}/questions/${enc(qid)}/rubric`,
          { method: "POST", json: { points: Number(pts.value), comment: text.value } });
        return api(`/assignments/${enc(id)}/questions/${enc(qid)}/grading`);
      });
    });
    rubric.append(list, view.manual ? add : h("p", { class: "muted" },
      "An autograded question is reviewed here; to change one submission's score, grade it on its page."));
  }

  const keys = (event) => {
    if (!document.body.contains(page)) {
      document.removeEventListener("keydown", keys);
      return;
    }
    if (event.target.closest("input[type=text], input[type=number], textarea, select")) return;
    if (event.key === "n") move(1);
    else if (event.key === "p") move(-1);
    else if (/^[1-9]$/.test(event.key) && view.items[Number(event.key) - 1]) toggle(view.items[Number(event.key) - 1]);
    else return;
    event.preventDefault();
  };
  document.addEventListener("keydown", keys);
  draw();
}
