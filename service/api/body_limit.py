"""A cap on every request body, applied before anything reads it.

Starlette parses a multipart upload (spooling it to a temporary file) before the route
runs, so the route's own per-assignment limit comes too late to spare the disk: a
declared ``Content-Length`` over the cap is refused at once, and a body sent without one
(chunked) is cut off as soon as it passes the cap.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def limited() -> Message:
            # The app's body parser catches what receive() raises (FastAPI answers 400 to
            # any error while parsing a form), so the cap answers for itself: 413 now,
            # and to the app the client has gone.
            nonlocal received, started, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        started = True
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; what the app says after it has no reader
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited, tracking)

    async def _refuse(self, send: Send) -> None:
        mib = self.max_bytes / (1024 * 1024)
        body = json.dumps({"detail": f"The upload is larger than this service accepts "
                                     f"({mib:g} MiB). Nothing was submitted."}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
