// Review requests: on a report, each question's request (or the form to file one, for
// the student who handed in) and, for staff, the answer form; and the staff's queue.

import { api, isStaff } from "./api.js";
import { badge, clear, h, message, points, when } from "./dom.js";

const enc = encodeURIComponent;

// Fills each question card of a graded report with its review box.
export async function reviewBoxes(body, s, me) {
  if (s.status !== "graded" || !s.report) return;
  let found;
  try { found = await api(`/submissions/${enc(s.id)}/reviews`); } catch { return; }
  const byQuestion = new Map(found.map((r) => [r.question_id, r]));
  for (const q of s.report.questions) {
    const card = body.querySelector(`section.question[data-question="${CSS.escape(q.id)}"]`);
    if (!card) continue;
    const box = h("div", { class: "review", dataset: { question: q.id } });
    card.append(box);
    showBox(box, s, q, byQuestion.get(q.id), me);
  }
}

function showBox(box, s, q, request, me) {
  clear(box);
  if (request) {
    const who = s.blind ? "" : ` by ${request.student}`;
    box.append(h("p", {}, h("strong", {}, "Review requested"), `${who}, ${when(request.created_at)} `,
      badge(request.status), h("br"), request.comment));
    if (request.answer) {
      box.append(h("p", { class: "review-answer" }, h("strong", {}, `Answer from ${request.answered_by}: `), request.answer,
        request.override !== null ? ` (points set to ${points(request.override)} / ${points(q.max_points)})` : ""));
    }
    if (isStaff(me)) box.append(request.status === "answered" ? reopenButton(box, s, q, me, request) : answerForm(box, s, q, me, request));
    return;
  }
  if (!isStaff(me)) box.append(askForm(box, s, q, me));
}

function askForm(box, s, q, me) {
  const comment = h("textarea", { name: "comment", rows: 2, maxlength: 2000, required: true,
    "aria-label": `why question ${q.id} should be looked at again` });
  const status = h("span", { class: "form-status" });
  const form = h("form", { class: "ask-review" }, h("strong", {}, "Ask for a review"), comment,
    h("button", { type: "submit" }, "Send request"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    try {
      const filed = await api(`/submissions/${enc(s.id)}/questions/${enc(q.id)}/review`,
        { method: "POST", json: { comment: comment.value } });
      showBox(box, s, q, filed, me);
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

function answerForm(box, s, q, me, request) {
  const answer = h("textarea", { name: "answer", rows: 2, maxlength: 2000, required: true,
    "aria-label": `answer to the review request on ${q.id}` });
  const override = h("input", { type: "number", name: "override", min: 0, max: q.max_points, step: "any",
    placeholder: "points unchanged", "aria-label": `new points for ${q.id} (optional)` });
  const status = h("span", { class: "form-status" });
  const form = h("form", { class: "answer-review" }, h("strong", {}, "Answer"), answer, override,
    h("button", { type: "submit" }, "Send answer"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    const json = { answer: answer.value };
    if (override.value !== "") json.override = Number(override.value);
    try {
      const done = await api(`/reviews/${enc(request.id)}/answer`, { method: "POST", json });
      showBox(box, s, q, done, me);
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

function reopenButton(box, s, q, me, request) {
  return h("button", { type: "button", class: "link", onclick: async () => {
    const again = await api(`/reviews/${enc(request.id)}/reopen`, { method: "POST" });
    showBox(box, s, q, again, me);
  } }, "Reopen (let the student ask again)");
}

// The staff's queue for one assignment: open requests first, oldest first.
export async function reviewsPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const found = await api(`/assignments/${enc(id)}/reviews`);
  const order = { open: 0, reopened: 1, answered: 2 };
  found.sort((a, b) => order[a.status] - order[b.status]);
  page.append(h("h1", {}, `Review requests: ${id}`),
    h("p", { class: "muted" }, `${found.filter((r) => r.status === "open").length} open, ${found.length} in all`));
  if (!found.length) {
    page.append(h("p", {}, "No student has asked for a review."));
    return;
  }
  page.append(h("div", { class: "table-scroll" }, h("table", { id: "review-queue" },
    h("thead", {}, h("tr", {}, ["Student", "Question", "Asked", "Status", "Request", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, found.map((r) => h("tr", {},
      h("td", {}, r.student), h("td", {}, r.question_id), h("td", {}, when(r.created_at)),
      h("td", {}, badge(r.status)), h("td", {}, r.comment),
      h("td", {}, h("a", { href: `#/submission/${enc(r.submission_id)}` }, "Open the submission"))))))));
}
