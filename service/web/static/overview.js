// The class overview of one assignment: a histogram of the totals (Chart.js, served
// from the package), how many submitted / were graded / failed / never handed in, and
// each question's mean and spread. A bar, or its row in the table under the chart,
// lists the students in it; a count opens the gradebook filtered to those students.

import { api } from "./api.js";
import { clear, h, points } from "./dom.js";

const enc = encodeURIComponent;
const BINS = 10;
let chartLibrary = null;

function loadChartLibrary() {
  // a classic script (UMD): it sets window.Chart; script-src 'self' allows it
  chartLibrary ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/vendor/chart.umd.min.js";
    script.onload = () => resolve(window.Chart);
    script.onerror = () => { chartLibrary = null; reject(new Error("The chart library did not load.")); };
    document.head.append(script);
  });
  return chartLibrary;
}

export function histogram(rows, maxPoints) {
  const bins = Array.from({ length: BINS }, (_, i) => ({
    from: (maxPoints * i) / BINS, to: (maxPoints * (i + 1)) / BINS, students: [] }));
  for (const r of rows) {
    if (r.total === null || r.total === undefined) continue;
    const i = maxPoints > 0 ? Math.min(BINS - 1, Math.floor((BINS * r.total) / maxPoints)) : 0;
    bins[i].students.push(r);
  }
  return bins;
}

export async function overviewPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const book = await api(`/assignments/${enc(id)}/gradebook`);
  const counts = { submitted: 0, graded: 0, waiting: 0, failed: 0, not_submitted: 0 };
  for (const r of book.rows) {
    counts[r.status] += 1;
    if (r.status !== "not_submitted") counts.submitted += 1;
  }
  const link = (status, n, label) => h("a", { href: `#/gradebook/${enc(id)}${status ? `?status=${status}` : ""}`,
    class: "count", dataset: { count: status || "all" } }, h("strong", {}, String(n)), ` ${label}`);
  page.append(h("h1", {}, `Class overview: ${id}`),
    h("p", { class: "counts" }, link("", book.rows.length, "students"), " · ",
      link("", counts.submitted, "submitted"), " · ", link("graded", counts.graded, "graded"), " · ",
      link("waiting", counts.waiting, "being graded"), " · ", link("failed", counts.failed, "failed"), " · ",
      link("not_submitted", counts.not_submitted, "not submitted")));

  const bins = histogram(book.rows, book.max_points);
  const listing = h("div", { id: "bin-students", "aria-live": "polite" });
  const show = (bin) => {
    clear(listing).append(h("h3", {}, `${bin.students.length} student(s) with ${points(bin.from)}–${points(bin.to)} points`),
      h("ul", {}, bin.students.map((r) => h("li", {},
        h("a", { href: `#/submission/${enc(r.submission_id)}` }, r.student), ` ${points(r.total)} / ${points(book.max_points)}`))));
  };
  const canvas = h("canvas", { id: "totals-chart", role: "img",
    "aria-label": `Histogram of total scores out of ${points(book.max_points)}; the table below lists the same counts` });
  const section = h("section", { class: "card wide" }, h("h2", {}, "Total scores"),
    h("div", { class: "chart-box" }, canvas));
  page.append(section);
  try {
    const Chart = await loadChartLibrary();
    const chart = new Chart(canvas, {
      type: "bar",
      data: { labels: bins.map((b) => `${points(b.from)}–${points(b.to)}`),
        datasets: [{ label: "students", data: bins.map((b) => b.students.length), backgroundColor: "#3b6ea8" }] },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: `total points (out of ${points(book.max_points)})` } },
          y: { title: { display: true, text: "students" }, beginAtZero: true, ticks: { precision: 0 } } },
        onClick: (event) => {
          const [hit] = chart.getElementsAtEventForMode(event, "index", { intersect: false }, false);
          if (hit) show(bins[hit.index]);
        },
      },
    });
  } catch (err) {
    section.append(h("p", { class: "msg msg-error", role: "alert" }, err.message));
  }
  section.append(h("div", { class: "table-scroll" }, h("table", { id: "bins" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Points"), h("th", { scope: "col" }, "Students"))),
    h("tbody", {}, bins.map((b, i) => h("tr", {},
      h("th", { scope: "row" }, `${points(b.from)}–${points(b.to)}`),
      h("td", {}, h("button", { type: "button", class: "link", dataset: { bin: i },
        disabled: !b.students.length, onclick: () => show(b) }, String(b.students.length)))))))),
  listing);

  page.append(h("section", { class: "card wide" }, h("h2", {}, "Per question"),
    h("div", { class: "table-scroll" }, h("table", { id: "question-stats" },
      h("thead", {}, h("tr", {}, ["Question", "Points", "Graded", "Mean", "Spread (SD)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, book.questions.map((q) => h("tr", {},
        h("th", { scope: "row" }, `${q.id} ${q.title}`), h("td", { class: "num" }, points(q.max_points)),
        h("td", { class: "num" }, q.manual && !q.graded ? "by hand" : String(q.graded)),
        h("td", { class: "num" }, points(q.mean)), h("td", { class: "num" }, points(q.stdev)))))))));
}
