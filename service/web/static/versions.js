// Publishing assignments without a restart: staff upload an assignment's folder as a
// zip; the service grades its reference notebook and a blank notebook in the sandbox and
// makes the version live only if the reference earns every point and the blank none.

import { api } from "./api.js";
import { badge, clear, h, message, points, when } from "./dom.js";
import { every } from "./timers.js";

const enc = encodeURIComponent;

function uploadForm(idInput, onUploaded) {
  const file = h("input", { type: "file", name: "file", accept: ".zip,application/zip", required: true,
    "aria-label": "the assignment's folder as a zip" });
  const status = h("div", { class: "form-status" });
  const form = h("form", { class: "publish" }, ...(idInput ? [idInput] : []), file,
    h("button", { type: "submit" }, "Upload and validate"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    const id = idInput ? idInput.value.trim() : form.dataset.assignment;
    const body = new FormData();
    body.append("file", file.files[0]);
    try {
      const version = await api(`/assignments/${enc(id)}/versions`, { method: "POST", form: body });
      status.append(message(`Version ${version.number} uploaded: validating it in the sandbox…`));
      onUploaded(id, version, status);
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

// Polls until the version is validated; says whether it went live and why not.
function watch(id, number, status, done) {
  const stop = every(1000, async () => {
    const found = (await api(`/assignments/${enc(id)}/versions`)).find((v) => v.number === number);
    if (!found || found.status === "validating") return;
    stop();
    clear(status);
    if (found.status === "live") {
      status.append(message(`Version ${number} (${found.spec_version}) is live: the reference earned ${points(found.reference_points)} of ${points(found.autograded_points)} points, a blank notebook ${points(found.blank_points)}.`));
    } else {
      status.append(message(`Version ${number} was not published:`, "error"),
        h("ul", { class: "problems" }, found.problems.map((p) => h("li", {}, p))));
    }
    done(found);
  });
}

// The staff home's form for an assignment that does not exist yet.
export function newAssignmentCard() {
  const id = h("input", { name: "assignment_id", required: true, pattern: "[a-z0-9][a-z0-9\\-]{0,99}",
    placeholder: "assignment id, as in spec.py", "aria-label": "the new assignment's id" });
  return h("section", { class: "card", id: "new-assignment" }, h("h2", {}, "Publish an assignment"),
    h("p", { class: "muted" }, "A zip of its folder: spec.py, solution.py, the reference notebook, support/ and handout/."),
    uploadForm(id, (assignmentId, version, status) => watch(assignmentId, version.number, status, (found) => {
      if (found.status === "live") status.append(h("a", { href: `#/assignments/${enc(assignmentId)}` }, `Open ${assignmentId}`));
    })));
}

// The assignment page's card: every version, upload a new one, make one live again.
export function versionsCard(a) {
  const box = h("section", { class: "card wide", id: "versions" }, h("h2", {}, "Versions"));
  const table = h("div", { class: "table-scroll" });
  const form = uploadForm(null, (id, version, status) => {
    refresh();
    watch(id, version.number, status, (found) => {
      refresh();
      if (found.status === "live") offerRegrade(status);
    });
  });
  form.dataset.assignment = a.id;
  box.append(table, h("h3", {}, "Upload a new version"), form);

  async function refresh() {
    const versions = await api(`/assignments/${enc(a.id)}/versions`);
    clear(table).append(h("table", { id: "version-list" },
      h("thead", {}, h("tr", {}, ["Version", "In spec.py", "Status", "Validation", "Uploaded", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, versions.map((v) => h("tr", { dataset: { number: v.number } },
        h("td", {}, v.number === 0 ? "bundled" : String(v.number)), h("td", {}, v.spec_version || ""),
        h("td", {}, badge(v.status)),
        h("td", {}, v.problems.length ? h("ul", { class: "problems" }, v.problems.map((p) => h("li", {}, p)))
          : v.reference_points !== null ? `reference ${points(v.reference_points)} / ${points(v.autograded_points)}, blank ${points(v.blank_points)}` : ""),
        h("td", {}, v.created_at ? `${when(v.created_at)} by ${v.uploaded_by}` : "with the service"),
        h("td", {}, v.status === "available" ? h("button", { type: "button", class: "link", onclick: async () => {
          await api(`/assignments/${enc(a.id)}/versions/${v.number}/live`, { method: "POST" });
          await refresh();
          offerRegrade(table);
        } }, "Make live") : ""))))));
  }
  refresh();
  return box;
}

function offerRegrade(where) {
  where.append(h("p", { class: "msg" }, "Earlier gradings keep the version that made them. ",
    h("a", { href: "#regrade" }, "Preview a regrade"), " to see what the live version changes."));
}
