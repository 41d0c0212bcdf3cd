// Similarity of one assignment's hand-ins: start a comparison (it runs in the
// background), the most similar pairs ranked, and one pair's code side by side with the
// lines the two share marked.

import { api } from "./api.js";
import { badge, clear, h, message, when } from "./dom.js";
import { every } from "./timers.js";

const enc = encodeURIComponent;
const percent = (x) => `${(100 * x).toFixed(0)}%`;

export async function similarityPage(page, [rawId]) {
  const id = decodeURIComponent(rawId);
  const status = h("div", { id: "similarity-status" });
  const results = h("div", { id: "similarity-results" });
  const start = h("button", { type: "button", id: "start-similarity" }, "Compare the latest hand-ins");
  page.append(h("h1", {}, `Similarity: ${id}`),
    h("p", { class: "muted" }, "Each student's (or group's) latest hand-in against every other's; the handout's code and the course's support files are left out."),
    start, status, results);

  let stop = () => {};
  async function show() {
    let run;
    try {
      run = await api(`/assignments/${enc(id)}/similarity`);
    } catch (err) {
      clear(status).append(h("p", {}, err.status === 404 ? "No comparison has been run yet." : err.message));
      return;
    }
    clear(status).append(h("p", {}, badge(run.status),
      ` started ${when(run.created_at)} by ${run.requested_by}: ${run.submissions} hand-ins`,
      run.status === "done" ? `, ${run.compared} pairs shared code` : ""));
    if (run.error) status.append(message(run.error, "error"));
    const live = run.status === "queued" || run.status === "running";
    start.disabled = live;
    if (!live) stop();
    if (run.status === "done") showPairs(results, run);
    return live;
  }
  start.addEventListener("click", async () => {
    try {
      await api(`/assignments/${enc(id)}/similarity`, { method: "POST" });
    } catch (err) {
      clear(status).append(message(err.message, "error"));
      return;
    }
    clear(results);
    if (await show()) stop = every(1000, show);
  });
  if (await show()) stop = every(1000, show);
}

function showPairs(results, run) {
  clear(results);
  if (!run.pairs.length) {
    results.append(h("p", {}, "No two hand-ins share code beyond the handout's."));
    return;
  }
  const side = h("div", { id: "similarity-pair" });
  results.append(h("div", { class: "table-scroll" }, h("table", { id: "similarity-pairs" },
    h("thead", {}, h("tr", {}, ["#", "Hand-in", "Of it shared", "Hand-in", "Of it shared", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, run.pairs.map((p) => h("tr", { dataset: { rank: p.rank } },
      h("td", { class: "num" }, String(p.rank)), h("td", {}, p.a.who), h("td", { class: "num" }, percent(p.a.similarity)),
      h("td", {}, p.b.who), h("td", { class: "num" }, percent(p.b.similarity)),
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => showPair(side, run, p.rank) }, "Side by side"))))))),
  side);
}

async function showPair(side, run, rank) {
  const pair = await api(`/similarity/${enc(run.id)}/pairs/${rank}`);
  clear(side).append(h("h2", {}, `Pair ${rank}: ${pair.a.who} and ${pair.b.who}`),
    h("div", { class: "side-by-side" }, codePane(pair.a), codePane(pair.b)));
  side.scrollIntoView({ block: "start" });
}

function codePane(hand) {
  const marked = new Set();
  for (const [first, last] of hand.lines) for (let n = first; n <= last; n += 1) marked.add(n);
  const lines = hand.code.split("\n").map((text, i) => h("span", { class: marked.has(i + 1) ? "line shared" : "line", dataset: { line: i + 1 } }, text || " "));
  return h("section", { class: "code-pane", dataset: { who: hand.who } },
    h("h3", {}, `${hand.who} (${hand.filename}): ${percent(hand.similarity)} shared`),
    h("pre", { tabindex: 0, "aria-label": `code of ${hand.who}` }, lines));
}
