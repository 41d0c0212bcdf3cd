// The pages an LTI launch answers with (service/lti/pages.py): a launch's landing page
// hands its session token over in a <meta> tag (no URL ever holds it, and the pages run
// no inline script); a deep-linking answer is a form that posts itself back to the LMS.
import { api, session } from "./api.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`);

async function land() {
  const token = meta("autograder-session");
  if (!token) return;
  const landing = meta("autograder-landing")?.content || "#/";
  const me = await api("/me", { token: token.content });
  session.signIn(token.content, me);
  token.remove();
  // replace: the back button does not come back to a page that held the token
  window.location.replace(`/${landing}`);
}

land().catch((err) => {
  const main = document.getElementById("main");
  const p = document.createElement("p");
  p.textContent = `Signing in did not work: ${err.message}`;
  main.append(p);
});

document.querySelector("form[data-autosubmit]")?.submit();
