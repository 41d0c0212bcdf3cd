// The router and the sign-in page; the pages themselves live in staff.js, student.js
// and report.js. Routes are URL fragments, so no page state ever reaches the server.

import { api, ENDED, isStaff, session } from "./api.js";
import { clear, h, message } from "./dom.js";
import { gradebookPage } from "./gradebook.js";
import { gradingPage } from "./grading.js";
import { overviewPage } from "./overview.js";
import { leaderboardPage } from "./leaderboard.js";
import { reportPage } from "./report.js";
import { reviewsPage } from "./reviews.js";
import { similarityPage } from "./similarity.js";
import { assignmentPage, staffHome, submissionsPage } from "./staff.js";
import { studentHome } from "./student.js";
import { usersPage } from "./users.js";
import { stopAll } from "./timers.js";

const main = document.getElementById("main");

const routes = [
  [/^#\/signin$/, () => signinPage, false],
  [/^#\/?$/, (me) => (isStaff(me) ? staffHome : studentHome), true],
  [/^#\/assignments\/([^/?]+)$/, () => assignmentPage, true, true],
  [/^#\/submissions(?:\?(.*))?$/, () => submissionsPage, true, true],
  [/^#\/gradebook\/([^/?]+)(?:\?(.*))?$/, () => gradebookPage, true, true],
  [/^#\/overview\/([^/?]+)$/, () => overviewPage, true, true],
  [/^#\/users$/, () => usersPage, true, true],
  [/^#\/grade\/([^/?]+)\/([^/?]+)$/, () => gradingPage, true, true],
  [/^#\/reviews\/([^/?]+)$/, () => reviewsPage, true, true],
  [/^#\/leaderboard\/([^/?]+)$/, () => leaderboardPage, true],
  [/^#\/similarity\/([^/?]+)$/, () => similarityPage, true, true],
  [/^#\/submission\/([^/?]+)(?:\?(blind))?$/, () => reportPage, true],
];

function navigation(me) {
  const nav = clear(document.getElementById("nav"));
  const who = clear(document.getElementById("who"));
  if (!me) return;
  nav.append(h("a", { href: "#/" }, isStaff(me) ? "Assignments" : "My submissions"));
  if (isStaff(me)) {
    nav.append(h("a", { href: "#/submissions" }, "Submissions"), h("a", { href: "#/users" }, "Users"));
  }
  who.append(h("span", { class: "muted" }, `${me.name} (${me.role})`), " ",
    h("button", { type: "button", id: "signout", class: "link", onclick: () => {
      const token = session.token;
      session.signOut();  // at once: the tab is signed out whatever the server answers
      window.location.hash = "#/signin";
      // a session an LMS launch started ends on the server too (an API token stays)
      api("/me/sign-out", { method: "POST", token }).catch(() => {});
    } }, "Sign out"));
}

async function render() {
  stopAll();
  const hash = window.location.hash || "#/";
  const me = session.me;
  navigation(me);
  for (const [pattern, pick, signedIn, staffOnly] of routes) {
    const match = pattern.exec(hash);
    if (!match) continue;
    if (signedIn && !session.token) {
      window.location.hash = "#/signin";
      return;
    }
    if (staffOnly && !isStaff(me)) {
      window.location.hash = "#/";
      return;
    }
    const page = h("div", { class: "page" });
    clear(main).append(page);
    try {
      await pick(me)(page, match.slice(1), me);
    } catch (err) {
      page.append(message(err.message || String(err), "error"));
    }
    // a page change moves focus to its heading, so a screen reader starts there
    const heading = page.querySelector("h1, h2");
    if (heading && !page.contains(document.activeElement)) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    return;
  }
  clear(main).append(message("There is no such page.", "error"), h("a", { href: "#/" }, "Home"));
}

function signinPage(page) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "agt_…", "aria-label": "API token" });
  const status = h("div", { id: "signin-status" });
  const form = h("form", { class: "card narrow", id: "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste the API token your course staff gave you (or the one ",
      h("code", {}, "autograder users add"), " printed). It stays in this browser tab until you sign out."),
    h("label", { for: "token" }, "API token"), input,
    h("button", { type: "submit" }, "Sign in"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    const token = input.value.trim();
    try {
      const me = await api("/me", { token });
      session.signIn(token, me);
      input.value = "";
      window.location.hash = "#/";
    } catch (err) {
      status.append(message(err.status === 401 ? "That token is not valid." : err.message, "error"));
    }
  });
  const ended = sessionStorage.getItem(ENDED);
  if (ended) {
    sessionStorage.removeItem(ENDED);
    status.append(message(ended, "error"));
  }
  page.append(form);
  input.focus();
}

window.addEventListener("hashchange", render);
render();
