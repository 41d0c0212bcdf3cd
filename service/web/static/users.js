// The roster: who is enrolled, with what role; enrol from a CSV, reset or revoke a
// token, change a role (administrators). A new token is shown once, here, and never again.

import { api } from "./api.js";
import { clear, h, message, when } from "./dom.js";

const enc = encodeURIComponent;

export async function usersPage(page, _args, me) {
  const admin = me.role === "admin";
  page.append(h("h1", {}, "Users"));
  const status = h("div", { id: "users-status", "aria-live": "polite" });
  const tokens = h("div", { id: "new-tokens" });
  const listBox = h("div", { class: "table-scroll" });
  page.append(importForm(admin, status, tokens, () => refresh()), status, tokens,
    h("section", { class: "card wide" }, h("h2", {}, "Enrolled"), listBox));

  async function refresh() {
    const users = await api("/users");
    clear(listBox).append(table(users, me, admin, status, tokens, refresh));
  }
  await refresh();
}

function showTokens(box, created, note) {
  clear(box);
  if (!created.length) return;
  box.append(h("section", { class: "card wide", role: "region", "aria-label": "New tokens" },
    h("h2", {}, "New tokens"),
    h("p", { class: "muted" }, note || "Give each person their token now: it is not shown again."),
    h("div", { class: "table-scroll" }, h("table", { id: "token-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Token"))),
      h("tbody", {}, created.map((c) => h("tr", {}, h("th", { scope: "row" }, c.name), h("td", {}, c.role),
        h("td", {}, h("code", { class: "token" }, c.token)))))))));
}

function importForm(admin, status, tokens, refresh) {
  const text = h("textarea", { id: "roster-csv", rows: 5, placeholder: "name,role\nada,student\nalan,student",
    "aria-describedby": "roster-help" });
  const file = h("input", { type: "file", id: "roster-file", accept: ".csv,text/csv,text/plain" });
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = await file.files[0].text();
  });
  const form = h("form", { class: "card wide", id: "roster-import" }, h("h2", {}, "Enrol from a CSV"),
    h("p", { class: "muted", id: "roster-help" }, "One person per line: name, then role (student if left out",
      admin ? "; instructor or admin for staff)." : "; only administrators enrol staff).",
      " People already enrolled are left as they are. A file with a bad line enrols nobody."),
    h("label", { for: "roster-file" }, "CSV file"), file,
    h("label", { for: "roster-csv" }, "or paste it"), text,
    h("button", { type: "submit" }, "Enrol"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    try {
      const result = await api("/users/import", { method: "POST", json: { csv: text.value } });
      const parts = [`${result.created.length} enrolled`];
      if (result.existing.length) parts.push(`${result.existing.length} already enrolled (${result.existing.join(", ")})`);
      status.append(message(parts.join("; ") + "."));
      showTokens(tokens, result.created);
      text.value = "";
      await refresh();
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  });
  return form;
}

function table(users, me, admin, status, tokens, refresh) {
  const act = async (what, fn) => {
    clear(status);
    try {
      await fn();
      await refresh();
    } catch (err) {
      status.append(message(`${what}: ${err.message}`, "error"));
    }
  };
  const manageable = (u) => admin || u.role === "student";
  return h("table", { id: "users" },
    h("thead", {}, h("tr", {}, ["Name", "Role", "Enrolled", "Token", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, users.map((u) => {
      const role = admin && u.id !== me.id
        ? h("select", { "aria-label": `Role of ${u.name}`, dataset: { role: u.name },
          onchange: (e) => act("Changing the role", async () => {
            await api(`/users/${enc(u.id)}`, { method: "PATCH", json: { role: e.target.value } });
            status.append(message(`${u.name} is now ${e.target.value}.`));
          }) }, ["student", "instructor", "admin"].map((r) => h("option", { value: r, selected: r === u.role }, r)))
        : u.role;
      const actions = manageable(u) && u.id !== me.id ? [
        h("button", { type: "button", class: "link", dataset: { reset: u.name }, onclick: () => act("Resetting the token", async () => {
          const made = await api(`/users/${enc(u.id)}/token`, { method: "POST" });
          showTokens(tokens, [made], `${u.name}'s old token no longer works. Give them this one now: it is not shown again.`);
        }) }, "New token"), " ",
        u.active ? h("button", { type: "button", class: "link", dataset: { revoke: u.name }, onclick: () => act("Revoking the token", async () => {
          await api(`/users/${enc(u.id)}/token`, { method: "DELETE" });
          status.append(message(`${u.name}'s token is revoked: they are signed out and cannot sign in until given a new one.`));
        }) }, "Revoke") : "",
      ] : [];
      return h("tr", { dataset: { user: u.name } }, h("th", { scope: "row" }, u.name), h("td", {}, role),
        h("td", {}, when(u.created_at)), h("td", {}, u.active ? "active" : h("span", { class: "bad" }, "revoked")),
        h("td", {}, actions));
    })));
}
