"""The upload route's fast path answers every request exactly as the route does: the same
requests, good and bad, sent to a server with it and to one without it get the same
status, the same message and the same headers. No worker runs: only acceptance is
compared (what is graded afterwards does not depend on the path an upload took)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from service.api.fast_intake import FastIntake
from service.db.models import Role
from tests.conftest import NOTEBOOKS
from tests.service.conftest import LiveServer

ASSIGNMENT = "ee411-hw3"
NOTEBOOK = (NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb").read_bytes()
BOUNDARY = "b0undary"


def multipart(field: str, filename: str, data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

# name -> (headers without the token, body, whether to send the student's token)
REQUESTS = {
    "a notebook": ({}, multipart("file", "hw.ipynb", NOTEBOOK), True),
    "a Python file": ({}, multipart("file", "hw.py", b"def f(x):\n    return x\n"), True),
    "no token": ({}, multipart("file", "hw.ipynb", NOTEBOOK), False),
    "a token that is not valid": ({"Authorization": "Bearer nope"},
                                  multipart("file", "hw.ipynb", NOTEBOOK), False),
    "another scheme": ({"Authorization": "Basic YTpi"},
                       multipart("file", "hw.ipynb", NOTEBOOK), False),
    "a Word file": ({}, multipart("file", "hw.docx", b"PK\x03\x04"), True),
    "not JSON": ({}, multipart("file", "hw.ipynb", b"this is not json"), True),
    "a notebook without cells": ({}, multipart("file", "hw.ipynb", b'{"nbformat": 4}'), True),
    "the wrong field": ({}, multipart("notebook", "hw.ipynb", NOTEBOOK), True),
    "a broken multipart body": ({}, b"--b0undary\r\ngarbage", True),
    "JSON, not a form": ({"Content-Type": "application/json"}, b'{"file": "x"}', True),
    "an Idempotency-Key too long": ({"Idempotency-Key": "k" * 201},
                                    multipart("file", "hw.ipynb", NOTEBOOK), True),
    "an unknown assignment": ({}, multipart("file", "hw.ipynb", NOTEBOOK), True),
}
SAME_HEADERS = ("content-type", "www-authenticate", "cache-control",
                "content-security-policy", "x-content-type-options")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    made = {}
    for name, fast in (("fast", "true"), ("route", "false")):
        made[name] = LiveServer(tmp_path_factory.mktemp(name), workers=0, extra_env={
            "AUTOGRADER_FAST_INTAKE": fast, "AUTOGRADER_CALIBRATE_AT_START": "false"}).start()
    yield made
    for server in made.values():
        server.stop()


def send(server: LiveServer, token: str, name: str,
         extra: dict[str, str] | None = None) -> httpx.Response:
    headers, body, with_token = REQUESTS[name]
    assignment = "no-such-assignment" if name == "an unknown assignment" else ASSIGNMENT
    return httpx.post(
        f"{server.url}/api/v1/assignments/{assignment}/submissions", content=body,
        headers={**MULTIPART, **headers, **(extra or {}),
                 **({"Authorization": f"Bearer {token}"} if with_token else {})}, timeout=30)


def comparable(response: httpx.Response) -> tuple:
    body = response.json()
    if response.status_code == 202:  # the ids differ; their shape must not
        body = {k: (v if k in ("status", "late_days") else type(v).__name__)
                for k, v in body.items()}
    return (response.status_code, json.dumps(body, sort_keys=True),
            {h: response.headers.get(h) for h in SAME_HEADERS},
            response.headers.get("location", "").count("/"))


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_fast_path_answers_as_the_route_does(servers, name):
    answers = {which: comparable(send(server, server.add_user(f"s-{abs(hash(name))}",
                                                              Role.STUDENT), name))
               for which, server in servers.items()}
    assert answers["fast"] == answers["route"]
    # the battery means something: good uploads accepted, every other kind refused
    assert (answers["fast"][0] == 202) == (name in ("a notebook", "a Python file")), answers


def test_a_retry_under_one_idempotency_key_is_the_same_upload_on_either_path(servers):
    for which, server in servers.items():
        token = server.add_user("retrying", Role.STUDENT)
        key = {"Idempotency-Key": "same-upload"}
        first, again = (send(server, token, "a notebook", key) for _ in range(2))
        assert first.status_code == again.status_code == 202, which
        assert first.json()["id"] == again.json()["id"], which
        other = send(server, token, "a Python file", key)
        assert other.status_code == 422 and "different file" in other.json()["detail"], which


def test_only_multipart_posts_to_the_upload_path_are_taken():
    """Its answers say nothing of the path, so this looks at whether the app behind it
    was called: a multipart upload is answered by the path (here its 401), anything else
    reaches the app unread."""
    called: list[str] = []

    async def app(scope, receive, send):
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=_with_app(FastIntake(app))), base_url="http://test") as client:
            upload = f"/api/v1/assignments/{ASSIGNMENT}/submissions"
            answer = await client.post(upload, content=multipart("file", "a.ipynb", NOTEBOOK),
                                       headers=MULTIPART)
            assert answer.status_code == 401 and called == []
            assert (await client.post(upload, json={"file": "x"})).status_code == 418
            assert (await client.get(upload)).status_code == 418
            assert (await client.post(upload + "/x", content=b"",
                                      headers=MULTIPART)).status_code == 418
            assert (await client.post(upload, content=b"", headers={
                **MULTIPART, "Idempotency-Key": "k" * 201})).status_code == 418
            assert len(called) == 4

    asyncio.run(run())


def _with_app(app):
    """``scope["app"]`` as Starlette sets it: the path reads the app's state from it."""
    holder = SimpleNamespace(state=SimpleNamespace(autograder=None))

    async def asgi(scope, receive, send):
        await app({**scope, "app": holder}, receive, send)

    return asgi


def test_the_lifespan_reaches_the_app():
    """Its start-up starts the workers: a first version of the path read every scope as
    a request's, and the service then accepted uploads that no worker ever graded."""
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    asyncio.run(FastIntake(app)({"type": "lifespan", "asgi": {"version": "3.0"}},
                                None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
