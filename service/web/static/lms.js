// The LMS (LTI 1.3) on an assignment's page: the course items that open it, whether their
// LMS offered grade and roster services, and every score sent (or waiting, or failed) to
// their grade columns; staff send again and import a roster from here.

import { api } from "./api.js";
import { badge, clear, h, message, points, when } from "./dom.js";

const enc = encodeURIComponent;

export function lmsCard(a) {
  const card = h("section", { class: "card wide", id: "lms" }, h("h2", {}, "LMS (LTI)"));
  const body = h("div");
  const status = h("div", { class: "form-status" });
  card.append(body, status);
  const show = (lti) => {
    clear(body);
    if (!lti.links.length) {
      body.append(h("p", { class: "muted" }, "No LMS item opens this assignment yet. Add it to a course with the LMS's content selection (deep linking) once an administrator has registered the LMS."));
      return;
    }
    body.append(h("p", { class: "muted" }, lti.released
      ? "Released: every learner's total goes to the item's grade column, and again after each published regrade."
      : "Not released: nothing goes to the LMS until the hidden results are released."));
    for (const link of lti.links) {
      const rows = link.scores.map((s) => h("tr", {},
        h("td", {}, s.student), h("td", { class: "num" }, `${points(s.score)} / ${points(s.max_points)}`),
        h("td", {}, badge(s.status)),
        h("td", {}, s.sent_at ? when(s.sent_at) : s.next_attempt_at ? `next try ${when(s.next_attempt_at)}` : ""),
        h("td", { class: "muted" }, s.last_error || "")));
      body.append(h("h3", {}, `${link.context_title || link.context_id} · item ${link.resource_link_id}`),
        h("p", { class: "muted" }, `${link.issuer} · ${link.learners} learner(s) known of ${link.members} member(s) · `,
          link.grade_service ? "grade service offered" : "no grade service offered", " · ",
          link.roster_service ? "roster service offered" : "no roster service offered"),
        link.roster_service ? h("button", { type: "button", class: "roster", onclick: () => roster(link, false) }, "Import the roster") : "",
        link.roster_service && link.groups_service
          ? h("button", { type: "button", class: "roster-groups", onclick: () => roster(link, true) }, "Import the roster and its groups as this assignment's groups") : "",
        rows.length ? h("table", { class: "scores" }, h("thead", {}, h("tr", {},
          h("th", {}, "Student"), h("th", {}, "Score"), h("th", {}, "Sent"), h("th", {}, "When"), h("th", {}, "Last error"))),
          h("tbody", {}, rows)) : h("p", { class: "muted" }, "No score sent yet."));
    }
    if (lti.released) {
      body.append(h("button", { type: "button", id: "lms-send", onclick: send }, "Send every score again"));
    }
  };
  const load = async () => show(await api(`/assignments/${enc(a.id)}/lti`));
  const send = async () => {
    clear(status);
    try {
      show(await api(`/assignments/${enc(a.id)}/lti/passback`, { method: "POST" }));
      status.append(message("Queued: the scores go out within seconds."));
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  };
  const roster = async (link, groups) => {
    clear(status);
    try {
      const got = groups
        ? await api(`/lti/links/${link.id}/roster?groups=true`, { method: "POST" })
        : await api(`/lti/links/${link.id}/roster`, { method: "POST" });
      status.append(message(`Roster imported: ${got.learners} learner(s), ${got.staff} staff, ${got.skipped} skipped` +
        (groups ? `; ${got.groups} group(s)` : "") + "."));
      for (const why of got.group_conflicts) status.append(message(`Group left as it was: ${why}`, "error"));
      await load();
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  };
  load().catch((err) => body.append(message(err.message, "error")));
  return card;
}

// The home page's card: what to enter in the LMS when adding the tool, the LMSs this
// service trusts, and (for administrators) a form to register one.
export function platformsCard(me) {
  const card = h("section", { class: "card", id: "lms-platforms" }, h("h2", {}, "LMS (LTI 1.3)"));
  const body = h("div");
  const status = h("div", { class: "form-status" });
  card.append(body);
  const show = (got) => {
    clear(body);
    body.append(h("p", { class: "muted" }, "Enter these in the LMS when adding the tool:"),
      h("dl", { class: "facts" },
        h("dt", {}, "OIDC login"), h("dd", {}, h("code", {}, got.tool.oidc_login_url)),
        h("dt", {}, "Launch and deep linking"), h("dd", {}, h("code", {}, got.tool.launch_url)),
        h("dt", {}, "Public keys (JWKS)"), h("dd", {}, h("code", {}, got.tool.jwks_url))),
      got.platforms.length
        ? h("ul", { id: "platform-list" }, got.platforms.map((p) => h("li", {}, h("code", {}, p.issuer),
          ` (client ${p.client_id}; staff from ${p.staff_contexts.length ? p.staff_contexts.join(", ") : "no course yet"})`)))
        : h("p", { class: "muted" }, "No LMS is registered yet."));
  };
  if (me && me.role === "admin") {
    const field = (name, label, type = "url") => h("label", {}, label,
      h("input", { name, type, required: name !== "staff_contexts" }));
    const form = h("form", { id: "register-platform" }, h("h3", {}, "Register an LMS"),
      field("issuer", "Issuer", "text"), field("client_id", "Client id", "text"),
      field("deployment_ids", "Deployment ids (comma-separated)", "text"),
      field("auth_login_url", "OIDC authorization URL"), field("auth_token_url", "Token URL"),
      field("key_set_url", "Key set (JWKS) URL"),
      field("staff_contexts", "Courses whose instructors are staff here (context ids, comma-separated; * for all)", "text"),
      h("button", { type: "submit" }, "Register"), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(status);
      const data = Object.fromEntries(new FormData(form));
      const list = (text) => String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
      try {
        await api("/lti/platforms", { method: "POST", json: { ...data,
          deployment_ids: list(data.deployment_ids), staff_contexts: list(data.staff_contexts) } });
        status.append(message("Registered: launches from it are trusted now."));
        form.reset();
        show(await api("/lti/platforms"));
      } catch (err) {
        status.append(message(err.message, "error"));
      }
    });
    card.append(form);
  }
  api("/lti/platforms").then(show).catch((err) => body.append(message(err.message, "error")));
  return card;
}
