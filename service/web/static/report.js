// One submission: live status while it waits or runs, then the report with per-question
// and per-check points and feedback, the executed notebook (shown inert) and its plots.
// Staff also get manual scoring, a regrade button and the run history.

import { api, isStaff } from "./api.js";
import { badge, clear, h, message, points, when } from "./dom.js";
import { renderNotebook } from "./notebook.js";
import { reviewBoxes } from "./reviews.js";
import { every } from "./timers.js";

const PENDING = ["queued", "running"];

export async function reportPage(page, [id, blind], me) {
  const submission = await api(`/submissions/${encodeURIComponent(id)}`);
  if (blind) {
    // opened from blind grading: who handed it in stays hidden (their file's name too)
    Object.assign(submission, { student: "hidden while grading blind", group: null,
      filename: "Submission (graded blind)", blind: true });
  }
  const statusBox = h("div", { id: "live-status", role: "status", "aria-live": "polite" });
  const body = h("div", {});
  page.append(header(submission), statusBox, body);
  showStatus(statusBox, submission);
  if (PENDING.includes(submission.status)) {
    const stop = every(1000, async () => {
      let fresh;
      try { fresh = await api(`/submissions/${encodeURIComponent(id)}`); } catch { return; }
      showStatus(statusBox, fresh);
      if (!PENDING.includes(fresh.status)) {
        stop();
        showReport(body, fresh, me);
      }
    });
  } else {
    showReport(body, submission, me);
  }
}

function header(s) {
  return h("div", { class: "card" },
    h("h1", {}, s.filename),
    h("dl", { class: "facts" },
      h("dt", {}, "Assignment"), h("dd", {}, s.assignment_id),
      h("dt", {}, "Student"), h("dd", {}, s.group ? `${s.student} for group ${s.group} (${s.members.join(", ")})` : s.student),
      h("dt", {}, "Submitted"), h("dd", {}, when(s.created_at)),
      h("dt", {}, "Late"), h("dd", {}, s.late_days ? `${s.late_days} day(s)` : "no")));
}

function showStatus(box, s) {
  clear(box);
  const line = h("p", { class: "status-line" }, "Status: ", badge(s.status));
  if (s.status === "queued") line.append(` — position ${s.queue_position ?? "?"} in the queue`);
  if (s.status === "running") line.append(" — your notebook is being run and graded");
  if (s.status === "graded" && s.score !== null && s.report) {
    // out of the whole assignment, the same before and after grading by hand
    const total = (s.report.questions || []).reduce((sum, q) => sum + q.max_points, 0);
    const toCome = total - s.report.max_score;
    line.append(` — score ${points(s.score)} / ${points(total || s.report.max_score)}`,
      toCome > 0 ? ` (${points(toCome)} of them not graded yet)` : "");
  }
  box.append(line);
  if (s.status === "failed") box.append(message(s.reason || "The run failed.", "error"));
}

function showReport(body, s, me) {
  clear(body);
  const report = s.report;
  if (!report) return;
  if (report.status === "not_gradable") {
    body.append(message(`This submission could not be graded: ${report.reason || "no reason given"}`, "error"));
  }
  if (report.hidden_pending) {
    body.append(message("Some results are hidden until your instructor releases them."));
  }
  if (report.manual_pending) {
    body.append(message(`${points(report.manual_pending)} points are graded by hand and not counted yet.`));
  }
  if (isStaff(me)) body.append(staffActions(s));
  body.append(summary(report));
  const list = h("div", { class: "questions" });
  for (const q of report.questions) list.append(question(q, s, me));
  body.append(h("h2", {}, "Questions"), list);
  reviewBoxes(list, s, me);
  if (isStaff(me) && s.runs) body.append(runs(s.runs));
  const notebookBox = h("div", { id: "notebook" }, h("p", { class: "muted" }, "Loading the executed notebook…"));
  body.append(notebookBox);
  loadNotebook(notebookBox, s, me);
}

// At the top: each question's points and status, and for one that lost points the
// first thing to fix, linking to the question's card below.
function summary(report) {
  const pending = (q) => q.outcome === "manual" || q.outcome === "ungraded";
  const rows = (report.questions || []).map((q) => {
    const fix = !pending(q) && q.points < q.max_points ? firstProblem(q) : "";
    return h("tr", {},
      h("th", { scope: "row" }, h("a", { href: `#question-${q.id}`, onclick: (event) => {
        event.preventDefault();
        document.querySelector(`section.question[data-question="${CSS.escape(q.id)}"]`)?.scrollIntoView();
      } }, `${q.id} ${q.title}`)),
      h("td", { class: "num" }, pending(q) ? `– / ${points(q.max_points)}` : `${points(q.points)} / ${points(q.max_points)}`),
      h("td", {}, badge(q.outcome)),
      h("td", {}, fix ? inline(fix) : ""));
  });
  return h("section", { class: "card wide", id: "summary" }, h("h2", {}, "Summary"),
    h("div", { class: "table-scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Question", "Points", "Status", "What to look at"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))));
}

function firstProblem(q) {
  const lost = (q.checks || []).find((c) => c.points < c.max_points && !c.pending);
  const line = (lost?.feedback || [])[0] || (q.feedback || [])[0] || "";
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

// `name` in feedback is shown as code; everything else stays text (never parsed as markup)
function inline(text) {
  return String(text).split(/(`[^`\n]+`)/).map((part) =>
    part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", {}, part.slice(1, -1)) : part);
}

function question(q, s, me) {
  const card = h("section", { class: "card question", dataset: { question: q.id } },
    h("div", { class: "question-head" },
      h("h3", {}, `${q.id}: ${q.title}`),
      h("span", { class: "score" }, `${points(q.points)} / ${points(q.max_points)}`), " ",
      badge(q.outcome)));
  // each line once: what a check says is shown in its row, not again above the table
  const inChecks = new Set((q.checks || []).flatMap((c) => c.feedback || []));
  const own = (q.feedback || []).filter((f) => !inChecks.has(f));
  if (own.length) card.append(h("ul", { class: "feedback" }, own.map((f) => h("li", {}, inline(f)))));
  if (q.checks?.length) {
    card.append(h("table", { class: "checks" },
      h("thead", {}, h("tr", {}, h("th", {}, "Check"), h("th", {}, "Points"), h("th", {}, "Feedback"))),
      h("tbody", {}, q.checks.map((c) => h("tr", {},
        h("td", {}, c.name),
        h("td", { class: "num" }, `${points(c.points)} / ${points(c.max_points)}`),
        h("td", {}, h("ul", { class: "feedback" }, (c.feedback || []).map((f) => h("li", {}, inline(f))),
          (c.expected || []).length ? h("li", { class: "muted" }, `expected: ${c.expected.join(" or ")}`) : null)))))));
  }
  if (isStaff(me)) card.append(manualForm(q, s));
  return card;
}

function manualForm(q, s) {
  const pointsInput = h("input", { type: "number", name: "points", min: 0, max: q.max_points, step: "any",
    placeholder: points(q.points), "aria-label": `points for ${q.id}` });
  const comment = h("textarea", { name: "comment", rows: 2, maxlength: 10000,
    placeholder: "Comment for the student", "aria-label": `comment for ${q.id}` });
  const status = h("span", { class: "form-status" });
  const form = h("form", { class: "manual", dataset: { question: q.id } },
    h("strong", {}, "Grade by hand"), pointsInput, comment,
    h("button", { type: "submit" }, "Save score"), status);
  // an edit makes an earlier "Saved" stale (a value the browser refuses never submits)
  for (const field of [pointsInput, comment]) field.addEventListener("input", () => clear(status));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {};
    if (pointsInput.value !== "") payload.points = Number(pointsInput.value);
    if (comment.value.trim()) payload.comment = comment.value.trim();
    clear(status);
    try {
      const fresh = await api(`/submissions/${encodeURIComponent(s.id)}/questions/${encodeURIComponent(q.id)}`,
        { method: "PATCH", json: payload });
      const body = form.closest(".page");
      showReport(body.lastChild, fresh, { role: "instructor" });
      const header = body.querySelector("#live-status");
      if (header) showStatus(header, fresh);
      body.querySelector(`section.question[data-question="${CSS.escape(q.id)}"] .form-status`)
        ?.append("Saved (recorded in the audit log).");
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

function staffActions(s) {
  const status = h("span", { class: "form-status" });
  const button = h("button", { type: "button", id: "regrade-one", onclick: async () => {
    clear(status);
    try {
      await api(`/submissions/${encodeURIComponent(s.id)}/regrade`, { method: "POST" });
      status.append("Regrade queued; this page shows the new result when it is graded.");
      setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 1500);
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  } }, "Regrade this submission");
  return h("div", { class: "actions" }, button, status);
}

function runs(list) {
  return h("details", { class: "card" }, h("summary", {}, `Runs (${list.length})`),
    h("table", {}, h("thead", {}, h("tr", {}, ["Run", "Trigger", "Status", "Score", "Published", "Finished", "Reason"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((r) => h("tr", {},
        h("td", {}, h("code", {}, r.id.slice(0, 8))), h("td", {}, r.trigger), h("td", {}, badge(r.status)),
        h("td", { class: "num" }, points(r.score)), h("td", {}, r.published ? "yes" : "no"),
        h("td", {}, when(r.finished_at)), h("td", {}, r.reason || ""))))));
}

async function loadNotebook(box, s, me) {
  let notebook;
  try {
    const response = await api(`/submissions/${encodeURIComponent(s.id)}/notebook`, { raw: true });
    notebook = JSON.parse(await response.text());
  } catch (err) {
    clear(box).append(message(err.status === 404 ? "No executed notebook is kept for this submission." : err.message));
    return;
  }
  const { element, images } = renderNotebook(notebook);
  clear(box);
  if (images.length) {
    box.append(h("section", { class: "card", id: "plots" },
      h("h2", {}, isStaff(me) ? `Plots (${images.length}), kept for the instructor` : `Plots (${images.length})`),
      h("div", { class: "gallery" }, images.map((img) => h("figure", {},
        h("img", { src: img.src, alt: `figure from cell ${img.cell}` }),
        h("figcaption", {}, `cell ${img.cell}`))))));
  }
  box.append(h("h2", {}, "Executed notebook"), element);
}
