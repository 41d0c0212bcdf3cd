// Staff pages: assignments and the live queue, one assignment's settings, statistics,
// release, exports and regrades, and the submissions table.

import { newAssignmentCard, versionsCard } from "./versions.js";
import { api, download } from "./api.js";
import { badge, clear, h, message, points, svg, when } from "./dom.js";
import { every } from "./timers.js";
import { lmsCard, platformsCard } from "./lms.js";

const enc = encodeURIComponent;
const STATUSES = ["queued", "running", "graded", "failed"];

// ------------------------------------------------------------------ home and queue
export async function staffHome(page, _args, me) {
  const assignments = await api("/assignments");
  page.append(h("h1", {}, "Assignments"),
    h("table", { id: "assignments" },
      h("thead", {}, h("tr", {}, ["Assignment", "Deadline", "Late policy", "Hidden results", "Points", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, assignments.map((a) => h("tr", {},
        h("td", {}, h("a", { href: `#/assignments/${enc(a.id)}` }, a.title), h("div", { class: "muted" }, a.id)),
        h("td", {}, a.deadline ? when(a.deadline) : "none"),
        h("td", {}, a.late_policy + (a.late_policy === "penalty" ? ` (${a.penalty_per_day * 100}%/day)` : "")),
        h("td", {}, a.hidden_released ? "released" : "withheld"),
        h("td", { class: "num" }, `${points(a.autograded_points)} + ${points(a.manual_points)} by hand`),
        h("td", {}, h("a", { href: `#/submissions?assignment=${enc(a.id)}` }, "Submissions")))))));
  const queue = h("section", { class: "card", id: "queue" }, h("h2", {}, "Grading queue"));
  page.append(queue, newAssignmentCard(), platformsCard(me));
  const refresh = async () => {
    try { showQueue(queue, await api("/queue")); } catch (err) { /* shown on the next tick */ }
  };
  await refresh();
  every(2000, refresh);
}

function runRow(r, extra) {
  return h("tr", {},
    h("td", {}, h("a", { href: `#/submission/${enc(r.submission_id)}` }, r.student)),
    h("td", {}, r.assignment_id), h("td", {}, r.trigger), extra(r));
}

function showQueue(box, q) {
  clear(box).append(h("h2", {}, "Grading queue"));
  box.append(h("p", { class: "counts" },
    STATUSES.map((s) => h("span", { class: "count", dataset: { status: s } }, badge(s), ` ${q.counts[s] ?? 0}`)),
    h("span", { class: q.workers_healthy ? "ok" : "bad" }, q.workers_healthy ? " workers running" : " no grading worker is running")));
  box.append(h("p", { class: "muted", id: "queues" }, Object.entries(q.queues).map(([name, v]) =>
    `${name} queue: ${v.workers} worker(s) alive, ${v.queued} waiting, ${v.running} running, ${v.failed} failed`).join(" · ")));
  const notReady = Object.entries(q.assignments).filter(([, v]) => v.status !== "ready" || v.warning);
  for (const [id, v] of notReady) {
    box.append(message(`${id}: ${v.status}${v.reason ? ` (${v.reason})` : ""}${v.warning ? ` — ${v.warning}` : ""}`, "warn"));
  }
  const table = (title, rows, head, extra) => rows.length
    ? h("div", {}, h("h3", {}, title), h("table", { class: "runs" },
      h("thead", {}, h("tr", {}, ["Student", "Assignment", "Trigger", ...head].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((r) => runRow(r, extra)))))
    : null;
  // an empty table is left out (Node.append would print a null as the text "null")
  box.append(...[
    table("Running", q.running, ["Worker", "Since"], (r) => [h("td", {}, r.worker || ""), h("td", {}, when(r.started_at))]),
    table("Queued", q.queued, ["Position", "Since"], (r) => [h("td", { class: "num" }, r.position), h("td", {}, when(r.created_at))]),
    table("Recent failures", q.failed, ["Reason", "When"], (r) => [h("td", { class: "reason" }, r.reason || ""), h("td", {}, when(r.finished_at))]),
  ].filter(Boolean));
  if (!q.running.length && !q.queued.length) box.append(h("p", { class: "muted" }, "Nothing is waiting."));
}

// ------------------------------------------------------------------ one assignment
export async function assignmentPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const a = await api(`/assignments/${enc(id)}`);
  page.append(h("h1", {}, a.title),
    h("p", { class: "muted" }, `${a.id} · version ${a.version} · ${points(a.autograded_points)} points autograded, ${points(a.manual_points)} by hand · `,
      h("a", { href: `#/submissions?assignment=${enc(a.id)}` }, "Submissions"), " · ",
      h("a", { href: `#/gradebook/${enc(a.id)}` }, "Gradebook"), " · ",
      h("a", { href: `#/overview/${enc(a.id)}` }, "Class overview"), " · ",
      h("a", { href: `#/reviews/${enc(a.id)}` }, "Review requests"), " · ",
      h("a", { href: `#/leaderboard/${enc(a.id)}` }, "Leaderboard"), " · ",
      h("a", { href: `#/similarity/${enc(a.id)}` }, "Similarity")),
    h("p", { id: "grade-by-question" }, "Grade by question: ",
      (a.questions || []).map((q, i) => [i ? " · " : "",
        h("a", { href: `#/grade/${enc(a.id)}/${enc(q.id)}`, title: q.title }, q.manual ? `${q.id} (by hand)` : q.id)])));
  const grid = h("div", { class: "grid" });
  page.append(grid);
  grid.append(settingsForm(a), extensionsCard(a), releaseCard(a), exportCard(a), regradeCard(a));
  page.append(versionsCard(a), lmsCard(a));
  const stats = h("section", { class: "card wide", id: "statistics" }, h("h2", {}, "Statistics"));
  page.append(stats);
  showStatistics(stats, await api(`/assignments/${enc(a.id)}/statistics`));
}

function toLocalInput(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 16) : "";
}

function settingsForm(a) {
  const deadline = h("input", { type: "datetime-local", name: "deadline", value: toLocalInput(a.deadline) });
  const policy = h("select", { name: "late_policy" },
    ["accept", "penalty", "reject"].map((p) => h("option", { value: p, selected: p === a.late_policy }, p)));
  const penalty = h("input", { type: "number", name: "penalty_per_day", min: 0, max: 100, step: "any", value: a.penalty_per_day * 100 });
  const perHour = h("input", { type: "number", name: "max_per_hour", min: 1, step: 1, value: a.max_per_hour ?? "", placeholder: "no limit" });
  const upload = h("input", { type: "number", name: "max_upload_mib", min: 1, max: 512, step: "any", value: a.max_upload_bytes / 1048576 });
  const blind = h("input", { type: "checkbox", name: "blind_grading", id: "blind-grading", checked: a.blind_grading });
  const board = h("input", { type: "checkbox", name: "leaderboard", id: "leaderboard", checked: a.leaderboard });
  const status = h("div", { class: "form-status" });
  const form = h("form", { class: "card", id: "settings" }, h("h2", {}, "Settings"),
    h("label", {}, "Deadline (UTC; empty for none)", deadline),
    h("label", {}, "Late submissions", policy),
    h("label", {}, "Penalty per late day (%)", penalty),
    h("label", {}, "Submissions per student per hour", perHour),
    h("label", {}, "Largest upload (MiB)", upload),
    h("label", { class: "inline" }, blind, " Grade by question blind (pseudonyms until revealed)"),
    h("label", { class: "inline" }, board, " Leaderboard: students see the best hidden-set accuracies, under pseudonyms"),
    h("p", { class: "muted" }, `Time limits from the assignment: ${a.cell_timeout_s} s per cell, ${a.total_timeout_s} s in all.`),
    h("button", { type: "submit" }, "Save settings"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    const body = {
      deadline: deadline.value ? `${deadline.value}:00Z` : null,
      late_policy: policy.value,
      penalty_per_day: Number(penalty.value || 0) / 100,
      max_per_hour: perHour.value ? Number(perHour.value) : null,
      max_upload_bytes: Math.round(Number(upload.value) * 1048576),
      blind_grading: blind.checked,
      leaderboard: board.checked,
    };
    try {
      await api(`/assignments/${enc(a.id)}`, { method: "PATCH", json: body });
      status.append(message("Saved."));
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

function extensionsCard(a) {
  const student = h("input", { type: "text", name: "student", id: "extension-student", required: true, autocomplete: "off" });
  const deadline = h("input", { type: "datetime-local", name: "deadline", id: "extension-deadline", required: true });
  const reason = h("input", { type: "text", name: "reason", id: "extension-reason", required: true, maxlength: 500 });
  const waive = h("input", { type: "checkbox", name: "waive_late_policy", id: "extension-waive" });
  const status = h("div", { class: "form-status" });
  const list = h("table", { id: "extension-list" });
  const show = async () => {
    let found;
    try { found = await api(`/assignments/${enc(a.id)}/extensions`); } catch (err) {
      clear(status).append(message(err.message, "error"));
      return;
    }
    if (!found.length) {
      clear(list).append(h("caption", { class: "muted" }, "No extensions granted."));
      return;
    }
    clear(list).append(h("caption", {}, "Extensions granted"), h("thead", {}, h("tr", {}, ["Student", "Deadline", "Late policy", "Reason", "Granted by", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, found.map((e) => h("tr", {},
        h("td", {}, e.student), h("td", {}, when(e.deadline)),
        h("td", {}, e.waive_late_policy ? "waived" : "applies"), h("td", {}, e.reason),
        h("td", {}, `${e.granted_by}, ${when(e.granted_at)}`),
        h("td", {}, h("button", { type: "button", class: "link", onclick: async () => {
          clear(status);
          try {
            await api(`/assignments/${enc(a.id)}/extensions/${enc(e.student)}`, { method: "DELETE" });
            await show();
          } catch (err) { status.append(message(err.message, "error")); }
        } }, `Withdraw ${e.student}'s extension`))))));
  };
  const form = h("form", { class: "card", id: "extensions" }, h("h2", {}, "Extensions"),
    h("label", {}, "Student (account name)", student),
    h("label", {}, "Their deadline (UTC)", deadline),
    h("label", {}, "Reason (the student sees it)", reason),
    h("label", { class: "inline" }, waive, " Waive the late policy for them"),
    h("button", { type: "submit" }, "Grant extension"), status,
    h("div", { class: "table-scroll" }, list));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    try {
      await api(`/assignments/${enc(a.id)}/extensions/${enc(student.value.trim())}`, { method: "PUT", json: {
        deadline: `${deadline.value}:00Z`, reason: reason.value, waive_late_policy: waive.checked } });
      status.append(message(`Extension granted to ${student.value.trim()}.`));
      await show();
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  show();
  return form;
}

function releaseCard(a) {
  const status = h("div", { class: "form-status" });
  const card = h("section", { class: "card", id: "release" }, h("h2", {}, "Hidden results"));
  const state = h("p", { id: "release-state" }, a.hidden_released
    ? "Released: students see their hidden questions and answer keys."
    : "Withheld: students see their public results only.");
  card.append(state);
  if (!a.hidden_released) {
    card.append(h("button", { type: "button", id: "release-button", onclick: async (event) => {
      if (!window.confirm(`Release the hidden results of ${a.id} to every student? This cannot be undone.`)) return;
      clear(status);
      try {
        await api(`/assignments/${enc(a.id)}/release`, { method: "POST" });
        state.textContent = "Released: students see their hidden questions and answer keys.";
        event.target.remove();
      } catch (err) {
        status.append(message(err.message, "error"));
      }
    } }, "Release hidden results"));
  }
  card.append(status);
  return card;
}

function exportCard(a) {
  const policy = h("select", { name: "export_policy" },
    h("option", { value: "latest" }, "latest submission"), h("option", { value: "best" }, "best submission"));
  const status = h("div", { class: "form-status" });
  const go = (format, name) => async () => {
    clear(status);
    try {
      await download(`/assignments/${enc(a.id)}/export?format=${format}&policy=${policy.value}`, name);
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  };
  return h("section", { class: "card", id: "export" }, h("h2", {}, "Gradebook"),
    h("label", {}, "Count each student's", policy),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "export-csv", onclick: go("csv", `${a.id}-grades.csv`) }, "Download CSV"),
      h("button", { type: "button", id: "export-gradescope", onclick: go("gradescope", `${a.id}-gradescope.json`) }, "Download Gradescope JSON"),
      h("button", { type: "button", id: "export-canvas", onclick: go("canvas", `${a.id}-canvas.csv`) }, "Canvas gradebook CSV"),
      h("button", { type: "button", id: "export-moodle", onclick: go("moodle", `${a.id}-moodle.csv`) }, "Moodle grade import CSV")),
    status);
}

function regradeCard(a) {
  const scope = h("select", { name: "question" }, h("option", { value: "" }, "every question"),
    a.questions.filter((q) => !q.manual).map((q) => h("option", { value: q.id }, `${q.id}: ${q.title}`)));
  const rescore = h("input", { type: "checkbox", name: "rescore_only", checked: true });
  const result = h("div", { id: "regrade-result" });
  const form = h("form", { class: "card", id: "regrade" }, h("h2", {}, "Regrade"),
    h("label", {}, "Regrade", scope),
    h("label", { class: "inline" }, rescore, " Rescore only: score the recorded runs again, without re-running notebooks"),
    h("p", { class: "muted" }, "Nothing changes for students until you publish the preview."),
    h("button", { type: "submit" }, "Preview regrade"), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(result);
    try {
      const batch = await api(`/assignments/${enc(a.id)}/regrade`, { method: "POST",
        json: { question: scope.value || null, rescore_only: rescore.checked } });
      showBatch(result, batch);
      if (batch.pending) {
        const stop = every(1500, async () => {
          const fresh = await api(`/regrades/${enc(batch.id)}`);
          showBatch(result, fresh);
          if (!fresh.pending) stop();
        });
      }
    } catch (err) {
      result.append(message(err.message, "error"));
    }
  });
  return form;
}

function showBatch(box, batch) {
  clear(box);
  box.append(h("p", { id: "batch-summary" }, `${batch.runs} submission(s)`,
    batch.pending ? `, ${batch.pending} still running` : ", all done",
    batch.published ? " · published to students" : " · preview, not yet published"));
  for (const e of batch.errors || []) box.append(message(e, "error"));
  // the scores that move, each submission named (a student may have several)
  const moved = batch.changes.filter((c) => c.old !== c.new);
  if (!batch.pending) {
    box.append(h("p", { id: "batch-moved" }, moved.length
      ? `${moved.length} score(s) change; ${batch.changes.length - moved.length} stay as they are.`
      : "No score changes."));
  }
  if (moved.length) {
    box.append(h("table", { id: "batch-changes" },
      h("thead", {}, h("tr", {}, ["Student", "Submission", "Old", "", "New"].map((t) => h("th", {}, t)))),
      h("tbody", {}, moved.map((c) => h("tr", { class: "changed" },
        h("td", {}, c.student),
        h("td", {}, h("a", { href: `#/submission/${enc(c.submission_id)}` },
          `${c.filename || "submission"}${c.submitted_at ? `, ${when(c.submitted_at)}` : ""}`)),
        h("td", { class: "num" }, points(c.old)), h("td", {}, "→"), h("td", { class: "num" }, points(c.new)))))));
  }
  if (!batch.published && !batch.pending && moved.length) {
    const status = h("span", { class: "form-status" });
    box.append(h("button", { type: "button", id: "publish", onclick: async (event) => {
      try {
        showBatch(box, await api(`/regrades/${enc(batch.id)}/publish`, { method: "POST" }));
      } catch (err) {
        status.append(message(err.message, "error"));
        event.target.disabled = false;
      }
    } }, "Publish these scores"), status);
  }
}

function histogram(counts, max) {
  const top = Math.max(1, ...counts);
  const width = 220;
  const height = 70;
  const bar = width / counts.length;
  return svg("svg", { class: "histogram", viewBox: `0 0 ${width} ${height + 14}`, role: "img",
    "aria-label": `score histogram: ${counts.join(", ")}` },
    counts.map((n, i) => {
      const barHeight = (n / top) * height;
      return svg("rect", { x: i * bar + 1, y: height - barHeight, width: bar - 2, height: Math.max(barHeight, n ? 1 : 0), "data-count": n },
        svg("title", {}, `${points((i * max) / 10)}–${points(((i + 1) * max) / 10)} points: ${n}`));
    }),
    svg("text", { x: 0, y: height + 12 }, "0"),
    svg("text", { x: width, y: height + 12, "text-anchor": "end" }, points(max)));
}

function showStatistics(box, stats) {
  box.append(h("p", {}, `${stats.submissions} graded submission(s) from ${stats.students} student(s); each student's latest counts.`));
  const rows = stats.questions.map((q) => h("div", { class: "stat", dataset: { question: q.id } },
    h("h3", {}, `${q.id}: ${q.title}`),
    h("p", { class: "muted" }, q.count
      ? `${q.count} scored · mean ${points(q.mean)} · median ${points(q.median)} of ${points(q.max_points)}`
      : "no automatic scores yet"),
    histogram(q.histogram, q.max_points),
    q.frequent_feedback.length
      ? h("ol", { class: "frequent" }, q.frequent_feedback.map(([line, n]) => h("li", {}, h("span", { class: "times" }, `${n}×`), " ", line)))
      : null));
  box.append(h("div", { class: "stats-grid" }, rows));
}

// ------------------------------------------------------------------ submissions
const PAGE = 20;

export async function submissionsPage(page, [query]) {
  const params = new URLSearchParams(query || "");
  const assignments = await api("/assignments");
  const field = (name) => params.get(name) || "";
  const form = h("form", { class: "filters", id: "filters" },
    h("label", {}, "Assignment", h("select", { name: "assignment" }, h("option", { value: "" }, "all"),
      assignments.map((a) => h("option", { value: a.id, selected: a.id === field("assignment") }, a.id)))),
    h("label", {}, "Student", h("input", { name: "student", value: field("student"), placeholder: "account name" })),
    h("label", {}, "Status", h("select", { name: "status" }, h("option", { value: "" }, "any"),
      STATUSES.map((s) => h("option", { value: s, selected: s === field("status") }, s)))),
    h("label", {}, "Late", h("select", { name: "late" }, h("option", { value: "" }, "any"),
      h("option", { value: "true", selected: field("late") === "true" }, "late only"),
      h("option", { value: "false", selected: field("late") === "false" }, "on time only"))),
    h("label", { class: "inline" }, h("input", { type: "checkbox", name: "latest_only", value: "true", checked: field("latest_only") === "true" }), " latest per student"),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    window.location.hash = `#/submissions?${next}`;
  });
  page.append(h("h1", {}, "Submissions"), form);
  const offset = Number(params.get("offset") || 0);
  const apiParams = new URLSearchParams();
  for (const k of ["assignment", "student", "status", "late", "latest_only"]) if (params.get(k)) apiParams.set(k, params.get(k));
  apiParams.set("offset", String(offset));
  apiParams.set("limit", String(PAGE));
  const result = await api(`/submissions?${apiParams}`);
  const go = (to) => { const p = new URLSearchParams(params); p.set("offset", String(to)); return `#/submissions?${p}`; };
  page.append(
    // the query it shows, so a reader (or a test) can tell this table from the last one
    h("table", { id: "submissions", dataset: { query: apiParams.toString() } },
      h("thead", {}, h("tr", {}, ["Submitted", "Student", "Assignment", "File", "Status", "Score", "Late", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, result.items.map((s) => h("tr", { dataset: { id: s.id } },
        h("td", {}, when(s.created_at)),
        h("td", {}, s.student, s.group ? h("div", { class: "muted" }, `group ${s.group}`) : null),
        h("td", {}, s.assignment_id), h("td", {}, s.filename),
        h("td", {}, badge(s.status), s.reason ? h("div", { class: "reason" }, s.reason) : null),
        h("td", { class: "num" }, points(s.score)),
        h("td", {}, s.late_days ? `${s.late_days} d` : ""),
        h("td", {}, h("a", { href: `#/submission/${enc(s.id)}` }, "Open")))))),
    h("p", { class: "pager" },
      result.total ? `Showing ${offset + 1}–${offset + result.items.length} of ${result.total}` : "No submissions match.", " ",
      offset > 0 ? h("a", { href: go(Math.max(0, offset - PAGE)), id: "prev" }, "← Previous") : null, " ",
      offset + PAGE < result.total ? h("a", { href: go(offset + PAGE), id: "next" }, "Next →") : null));
}
