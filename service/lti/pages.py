"""The few pages an LTI launch answers with. No inline script (the pages' CSP allows
the app's own files only): ``/static/lti.js`` reads what a page hands it from its
``<meta>`` tags and submits a form marked ``data-autosubmit``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlparse

from fastapi.responses import HTMLResponse

from service.web import CONTENT_SECURITY_POLICY


def _page(title: str, body: str, *, status: int = 200, meta: dict[str, str] | None = None,
          form_action: str = "'none'") -> HTMLResponse:
    metas = "".join(f'<meta name="{escape(k)}" content="{escape(v)}">'
                    for k, v in (meta or {}).items())
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - ml-autograder</title>{metas}"
            '<link rel="stylesheet" href="/static/app.css">'
            '<script type="module" src="/static/lti.js"></script></head>'
            f'<body><main id="main" class="card narrow"><h1>{escape(title)}</h1>{body}'
            "</main></body></html>")
    policy = CONTENT_SECURITY_POLICY.replace("form-action 'none'", f"form-action {form_action}")
    # the session token is in the page: never kept by a cache or sent on as a referrer
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": policy, "Cache-Control": "no-store"})


def landing(token: str, path: str, name: str) -> HTMLResponse:
    """Hands the launch's session to the dashboard (kept in this tab's sessionStorage,
    like a token pasted at sign-in) and opens ``path`` there."""
    return _page("Signing you in", f"<p>Signed in from your course as {escape(name)}; "
                 f'opening <a href="/{escape(path)}">the autograder</a>…</p>',
                 meta={"autograder-session": token, "autograder-landing": path})


def problem(title: str, message: str, status: int) -> HTMLResponse:
    return _page(title, f"<p>{escape(message)}</p><p class=\"muted\">Open the item again "
                 "from your course in the LMS; if this persists, tell your course staff."
                 "</p>", status=status)


def picker(launch_id: str, context: str, assignments: Sequence[tuple[str, str]]
           ) -> HTMLResponse:
    """Deep linking: staff choose the assignment the new LMS item opens."""
    items = "".join(
        '<li><form method="post" action="/lti/deep-link">'
        f'<input type="hidden" name="launch_id" value="{escape(launch_id)}">'
        f'<input type="hidden" name="assignment" value="{escape(aid)}">'
        f'<button type="submit">{escape(title)}</button> <code>{escape(aid)}</code>'
        "</form></li>" for aid, title in assignments)
    where = f" in {escape(context)}" if context else ""
    return _page("Choose an assignment", f"<p>The item you are adding{where} will open "
                 f"this assignment, and its scores go to its grade column.</p><ul>{items}</ul>",
                 form_action="'self'")


def deep_link_return(return_url: str, jwt: str, title: str) -> HTMLResponse:
    """The signed answer, posted back to the LMS (by lti.js; by hand without it)."""
    origin = urlparse(return_url)
    action = f"{origin.scheme}://{origin.netloc}"
    body = (f"<p>Adding <strong>{escape(title)}</strong> to your course…</p>"
            f'<form method="post" action="{escape(return_url)}" data-autosubmit>'
            f'<input type="hidden" name="JWT" value="{escape(jwt)}">'
            '<button type="submit">Continue to the LMS</button></form>')
    return _page("Linking the assignment", body, form_action=action)


@dataclass(frozen=True)
class ToolConfiguration:
    """What staff paste into the LMS when they register the tool."""

    oidc_login_url: str
    launch_url: str
    jwks_url: str
    deep_linking_url: str
    target_link_uri: str

    @classmethod
    def at(cls, base: str) -> ToolConfiguration:
        return cls(oidc_login_url=f"{base}/lti/login", launch_url=f"{base}/lti/launch",
                   jwks_url=f"{base}/lti/jwks", deep_linking_url=f"{base}/lti/launch",
                   target_link_uri=f"{base}/lti/launch")
