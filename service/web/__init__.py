"""The dashboard: a small static app served by the service itself, driving /api/v1.

Staff and students sign in with their API token, which the page keeps in the browser's
sessionStorage and sends in the Authorization header. No cookie carries it, so no other
site can make a browser send an authenticated request (nothing to forge across sites).
Every page answers with a Content-Security-Policy that allows only the app's own scripts
and styles: a notebook's HTML, shown as text, could not run a script even if it were
ever inserted as markup.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # notebook figures arrive as base64 data
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# the machine-readable API document: read by other tools, no page of ours
UNGUARDED = ("/openapi.json",)


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers when the response starts, streaming intact."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not path.startswith(UNGUARDED):
                    for name, value in SECURITY_HEADERS.items():
                        headers.setdefault(name, value)
                if path.startswith("/api/"):
                    headers.setdefault("Cache-Control", "no-store")
                if path == "/" or path.startswith("/lti/"):
                    _framable_by_lms(scope, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _framable_by_lms(scope: Scope, headers: MutableHeaders) -> None:
    """An LMS shows an LTI tool in a frame (its content selection always does): the
    dashboard and the launch pages may be framed by the registered LMSs, and only by
    them."""
    state = getattr(scope["app"].state, "autograder", None)
    origins = state.lti.frame_origins() if state is not None else []
    policy = headers.get("Content-Security-Policy")
    if not origins or policy is None:
        return
    headers["Content-Security-Policy"] = policy.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self' " + " ".join(origins))
    del headers["X-Frame-Options"]  # it cannot name origins; the CSP above does


def mount_dashboard(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:  # browsers ask for it on every page
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> RedirectResponse:
        return RedirectResponse("/")
