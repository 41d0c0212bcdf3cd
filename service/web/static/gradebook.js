// The gradebook: every student by every question of one assignment, sortable and
// filterable; non-submitters, failures, late hand-ins and grading still to do are marked.
// Each cell opens the report of the submission that counts.

import { api, download } from "./api.js";
import { badge, clear, h, points, when } from "./dom.js";

const enc = encodeURIComponent;
const STATUS_LABEL = {
  graded: "graded", waiting: "being graded", failed: "failed", not_submitted: "not submitted",
};

export async function gradebookPage(page, [rawId, query]) {
  const id = decodeURIComponent(rawId);
  const params = new URLSearchParams(query || "");
  const counted = params.get("counted") === "best" ? "best" : "latest";
  const book = await api(`/assignments/${enc(id)}/gradebook?policy=${counted}`);
  const state = { key: "student", descending: false, text: "", status: params.get("status") || "" };
  const counts = {};
  for (const r of book.rows) counts[r.status] = (counts[r.status] || 0) + 1;

  page.append(h("h1", {}, `Gradebook: ${id}`),
    h("p", { class: "muted" },
      `${book.rows.length} students · `,
      ["graded", "waiting", "failed", "not_submitted"].map((s, i) => [i ? " · " : "",
        h("a", { href: `#/gradebook/${enc(id)}?status=${s}`, dataset: { status: s } },
          `${counts[s] || 0} ${STATUS_LABEL[s]}`)]),
      " · counting each student's ", counted === "best" ? "best" : "latest", " hand-in (",
      h("a", { href: `#/gradebook/${enc(id)}?counted=${counted === "best" ? "latest" : "best"}` },
        `count the ${counted === "best" ? "latest" : "best"} instead`), ") · ",
      h("a", { href: `#/overview/${enc(id)}` }, "Class overview"), " · ",
      h("button", { type: "button", class: "link", id: "gradebook-csv",
        onclick: () => download(`/assignments/${enc(id)}/export?policy=${counted}`, `${id}-grades.csv`) },
      "Download CSV")));

  const search = h("input", { type: "search", id: "gradebook-filter", placeholder: "name or group",
    "aria-label": "Filter students by name or group" });
  const status = h("select", { id: "gradebook-status", "aria-label": "Filter by status" },
    h("option", { value: "" }, "every status"),
    Object.entries(STATUS_LABEL).map(([value, label]) =>
      h("option", { value, selected: value === state.status }, label)));
  const shown = h("p", { class: "muted", id: "gradebook-count", role: "status" });
  page.append(h("div", { class: "filters" }, h("label", {}, "Filter ", search),
    h("label", {}, "Status ", status), shown));
  const box = h("div", { class: "table-scroll", tabindex: "0", role: "region",
    "aria-label": "Gradebook table" });
  page.append(box);

  const draw = () => {
    const rows = book.rows.filter((r) => (!state.status || r.status === state.status)
      && (!state.text || `${r.student} ${r.group || ""}`.toLowerCase().includes(state.text)));
    rows.sort((a, b) => compare(value(a, state.key), value(b, state.key), state.descending));
    shown.textContent = `${rows.length} of ${book.rows.length} students shown`;
    clear(box).append(table(book, rows, state, draw));
  };
  search.addEventListener("input", () => { state.text = search.value.trim().toLowerCase(); draw(); });
  status.addEventListener("change", () => { state.status = status.value; draw(); });
  draw();
}

function value(row, key) {
  if (key === "student") return row.student.toLowerCase();
  if (key === "status") return row.status;
  if (key === "late") return row.late_days;
  if (key === "total") return row.total;
  const cell = row.cells[key];
  return cell ? cell.points : null;
}

function compare(a, b, descending) {
  // nothing (not submitted, pending) sorts last whichever way
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  const order = a < b ? -1 : a > b ? 1 : 0;
  return descending ? -order : order;
}

function header(label, key, state, draw, title) {
  const sorted = state.key === key;
  const button = h("button", { type: "button", class: "link sort", title,
    onclick: () => {
      state.descending = sorted ? !state.descending : key !== "student";
      state.key = key;
      draw();
      document.querySelector(`[data-sort="${CSS.escape(key)}"]`)?.focus();
    }, dataset: { sort: key } }, label, sorted ? (state.descending ? " ▼" : " ▲") : "");
  return h("th", { scope: "col", "aria-sort": sorted ? (state.descending ? "descending" : "ascending") : "none" }, button);
}

function table(book, rows, state, draw) {
  const head = h("tr", {}, header("Student", "student", state, draw), header("Status", "status", state, draw),
    book.questions.map((q) => header(q.id, q.id, state, draw, `${q.title} (${points(q.max_points)} points${q.manual ? ", by hand" : ""})`)),
    header("Total", "total", state, draw), header("Late", "late", state, draw));
  const body = rows.map((r) => {
    const link = (content) => (r.submission_id
      ? h("a", { href: `#/submission/${enc(r.submission_id)}` }, content) : content);
    return h("tr", { class: `row-${r.status}` },
      h("th", { scope: "row" }, link(r.student), r.group ? h("span", { class: "muted" }, ` (${r.group})`) : ""),
      h("td", {}, badge(STATUS_LABEL[r.status]), r.submitted_at ? h("div", { class: "muted small" }, when(r.submitted_at)) : ""),
      book.questions.map((q) => h("td", { class: "num" }, cell(r, q, link))),
      h("td", { class: "num" }, r.total === null ? "–" : link(`${points(r.total)} / ${points(book.max_points)}`),
        r.pending ? h("div", { class: "muted small" }, `${points(r.pending)} to grade`) : ""),
      h("td", {}, r.late_days ? `${r.late_days} day(s)` : ""));
  });
  return h("table", { id: "gradebook" }, h("thead", {}, head), h("tbody", {}, body));
}

function cell(row, q, link) {
  const c = row.cells[q.id];
  if (!c) return "";
  if (c.points === null) {
    return link(h("span", { class: "pending", title: c.outcome === "manual" ? "to be graded by hand" : "waiting for the grader's data" },
      c.outcome === "manual" ? "to grade" : "waiting"));
  }
  return link(h("span", { class: c.points >= c.max_points ? "full" : c.points > 0 ? "part" : "zero" }, points(c.points)));
}
