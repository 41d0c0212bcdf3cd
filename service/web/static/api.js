// The public API, called with the token from this tab's sessionStorage. No cookie
// carries the token (nothing for another site to ride on) and no URL holds it.

const TOKEN = "autograder.token";
const ME = "autograder.me";
export const ENDED = "autograder.signed-out-because";

export const isStaff = (me) => Boolean(me && (me.role === "instructor" || me.role === "admin"));

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get me() {
    try { return JSON.parse(sessionStorage.getItem(ME) || "null"); } catch { return null; }
  },
  signIn(token, me) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(ME, JSON.stringify(me));
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ME);
  },
};

export async function api(path, { method = "GET", json, form, token, raw = false, headers = {} } = {}) {
  const sent = { ...headers, Authorization: `Bearer ${token || session.token || ""}` };
  let body;
  if (form) {
    body = form;
  } else if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers: sent, body, credentials: "omit", cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "The service cannot be reached; check your connection and retry.");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    if (response.status === 401 && !token) {
      const wasSignedIn = Boolean(session.token);
      session.signOut();
      // the sign-in page says why it is shown (read once, then forgotten)
      if (wasSignedIn) sessionStorage.setItem(ENDED, `You were signed out: ${detail}`);
      window.location.hash = "#/signin";
    }
    throw new ApiError(response.status, detail);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

// A file the API answers with (CSV, JSON), saved by the browser under its own name.
export async function download(path, fallbackName) {
  const response = await api(path, { raw: true });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
