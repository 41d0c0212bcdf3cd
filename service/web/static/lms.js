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
        link.roster_service ? h("button", { type: "button", class: "roster", onclick: () => roster(link) }, "Import the roster") : "",
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
  const roster = async (link) => {
    clear(status);
    try {
      const got = await api(`/lti/links/${link.id}/roster`, { method: "POST" });
      status.append(message(`Roster imported: ${got.learners} learner(s), ${got.staff} staff, ${got.skipped} skipped.`));
      await load();
    } catch (err) {
      status.append(message(err.message, "error"));
    }
  };
  load().catch((err) => body.append(message(err.message, "error")));
  return card;
}
