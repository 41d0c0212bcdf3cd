// The student's home: hand in a notebook (drop it or pick it), then follow it live;
// the history of everything handed in, with scores as they are released.

import { api } from "./api.js";
import { badge, clear, h, message, points, when } from "./dom.js";
import { every } from "./timers.js";

const enc = encodeURIComponent;
const ACCEPTED = ".ipynb,.py,.zip";

export async function studentHome(page) {
  const assignments = await api("/assignments");
  page.append(h("h1", {}, "Hand in"), uploadCard(assignments));
  const boards = assignments.filter((a) => a.leaderboard);
  if (boards.length) {
    page.append(h("section", { class: "card", id: "leaderboards" }, h("h2", {}, "Leaderboards"),
      h("ul", {}, boards.map((a) => h("li", {}, h("a", { href: `#/leaderboard/${enc(a.id)}` }, a.title))))));
  }
  const history = h("section", { class: "card", id: "history" }, h("h2", {}, "My submissions"));
  page.append(history);
  const refresh = async () => {
    let mine;
    try { mine = await api("/me/submissions?limit=100"); } catch { return; }
    showHistory(history, mine);
    return mine.items.some((s) => s.status === "queued" || s.status === "running");
  };
  if (await refresh()) {
    const stop = every(2000, async () => { if (!(await refresh())) stop(); });
  }
}

function uploadCard(assignments) {
  let chosen = null;
  const due = (a) => (a.my_extension ? a.my_extension.deadline : a.deadline);
  const select = h("select", { name: "assignment", id: "upload-assignment" },
    assignments.map((a) => h("option", { value: a.id }, `${a.title}${due(a) ? ` (due ${when(due(a))})` : ""}`)));
  // the student's own deadline, where staff granted an extension: what it is and why
  const mine = h("p", { id: "my-deadline", class: "muted", "aria-live": "polite" });
  const showDeadline = () => {
    const a = assignments.find((x) => x.id === select.value);
    const ext = a && a.my_extension;
    clear(mine);
    if (ext) {
      mine.append(`Your deadline: ${when(ext.deadline)} (extension granted by ${ext.granted_by}: ${ext.reason})`,
        ext.waive_late_policy ? "; later hand-ins are accepted without a late penalty." : ".");
    }
  };
  select.addEventListener("change", showDeadline);
  showDeadline();
  const picker = h("input", { type: "file", id: "upload-file", accept: ACCEPTED });
  const chosenName = h("span", { id: "chosen-file", class: "muted" }, "no file chosen");
  const status = h("div", { id: "upload-status", role: "status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "upload-submit", disabled: true }, "Submit");
  const choose = (file) => {
    chosen = file || null;
    chosenName.textContent = chosen ? `${chosen.name} (${Math.ceil(chosen.size / 1024)} KiB)` : "no file chosen";
    submit.disabled = !chosen;
  };
  picker.addEventListener("change", () => choose(picker.files[0]));
  // the zone takes drops; the keyboard reaches the (transparent) file input inside it
  const zone = h("div", { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drop your notebook here (.ipynb, .py, or a .zip with your notebook and helper files), or "),
    h("label", { class: "button-like" }, "choose a file", picker), " ", chosenName);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    choose(event.dataTransfer?.files?.[0]);
  });
  const form = h("form", { class: "card", id: "upload" },
    h("label", {}, "Assignment", select), mine, zone, submit, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosen) return;
    clear(status);
    submit.disabled = true;
    const body = new FormData();
    body.append("file", chosen, chosen.name);
    try {
      // one key per chosen file: a retry after a dropped connection is not a second hand-in
      const accepted = await api(`/assignments/${enc(select.value)}/submissions`, {
        method: "POST", form: body, headers: { "Idempotency-Key": crypto.randomUUID() } });
      window.location.hash = `#/submission/${enc(accepted.id)}`;
    } catch (err) {
      status.append(message(err.message, "error"));
      submit.disabled = false;
    }
  });
  return form;
}

function showHistory(box, mine) {
  clear(box).append(h("h2", {}, "My submissions"));
  if (!mine.items.length) {
    box.append(h("p", { class: "muted" }, "Nothing handed in yet."));
    return;
  }
  box.append(h("table", { id: "my-submissions" },
    h("thead", {}, h("tr", {}, ["Submitted", "Assignment", "File", "Status", "Score", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, mine.items.map((s) => h("tr", { dataset: { id: s.id } },
      h("td", {}, when(s.created_at)), h("td", {}, s.assignment_id), h("td", {}, s.filename),
      h("td", {}, badge(s.status), s.status === "queued" && s.queue_position ? ` #${s.queue_position}` : ""),
      h("td", { class: "num" }, points(s.score)),
      h("td", {}, h("a", { href: `#/submission/${enc(s.id)}` }, "Report")))))));
}
