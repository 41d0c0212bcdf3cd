"""A real LTI 1.3 platform (the LMS's side) for the LTI tests, served over HTTP.

lti1p3platform does the LTI work: the registration and its JWKS, the OIDC login URL,
the signed launch message and its claims, the client-credentials grant, the bearer-token
checks and request handling of AGS and NRPS, and the check of a deep-linking response.
This module adds what a platform keeps (courses, rosters, line items, scores) in memory,
the HTTP endpoints, the checks the library leaves out, and forgeries for security tests.
It also serves the course groups service (the IMS "lti-gs" draft that Canvas implements
and PyLTI1p3 consumes), which the library lacks: groups and group sets, and each member's
group_enrollments in NRPS.

    with LtiPlatform("http://127.0.0.1:8123") as lms:
        lms.add_member("c1", "u1", name="Ada", email="ada@example.edu", roles=[LEARNER])
        tool.register(lms.registration())
        browser.get(lms.login_url("u1", "c1", resource_link_id="hw3"))
        assert lms.results("c1")["ee411-hw3"]["u1"]["scoreGiven"] == 7
        lms.add_group("c1", "g1", name="Team 1", members=["u1"], set_id="projects")
"""

from __future__ import annotations

import html
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, Final, Self

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from lti1p3platform import request as lti_request
from lti1p3platform.ags import LtiAgs
from lti1p3platform.deep_linking import LtiDeepLinking
from lti1p3platform.exceptions import (
    LineItemNotFoundException,
    LtiDeepLinkingResponseException,
    LtiException,
    LtiServiceException,
    MissingRequiredClaim,
    PreflightRequestValidationException,
    UnsupportedGrantType,
)
from lti1p3platform.ltiplatform import JWKS, LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LaunchData, LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.response import Response as LtiResponse
from lti1p3platform.score import ActivityProgress, GradeProgress, UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    BasicService,
    NamesRoleProvisioningService,
    TPage,
    authenticate,
)

__all__ = ["CONTEXT_GROUPS_READONLY", "DEEP_LINKING_REQUEST", "GROUPS_CLAIM", "INSTRUCTOR",
           "LEARNER", "LINEITEM", "LINEITEM_READONLY", "MEMBERSHIPS_READONLY",
           "RESOURCE_LINK_REQUEST", "RESULT_READONLY", "SCORE", "TA", "LtiPlatform",
           "ThreadedServer", "parse_form"]

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_CLAIM = LTI + "deployment_id"
MESSAGE_TYPE_CLAIM = LTI + "message_type"
DEEP_LINKING_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DEEP_LINKING_DATA_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM = AGS_SCOPE + "lineitem"
LINEITEM_READONLY = AGS_SCOPE + "lineitem.readonly"
RESULT_READONLY = AGS_SCOPE + "result.readonly"
SCORE = AGS_SCOPE + "score"
MEMBERSHIPS_READONLY = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

GROUPS_CLAIM = "https://purl.imsglobal.org/spec/lti-gs/claim/groupsservice"
CONTEXT_GROUPS_READONLY: Final = "https://purl.imsglobal.org/spec/lti-gs/scope/contextgroup.readonly"
GROUPS_MEDIA_TYPE = "application/vnd.ims.lti-gs.v1.contextgroupcontainer+json"
GROUP_SETS_MEDIA_TYPE = "application/vnd.ims.lti-gs.v1.contextgroupsetcontainer+json"
# granted by /token besides the library's own (AGS and NRPS)
EXTRA_GRANTED_SCOPES = (CONTEXT_GROUPS_READONLY,)
ACCESS_TOKEN_LIFETIME_S = 3600

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
TAMPER_KINDS = frozenset({"signature", "audience", "expired", "deployment"})
ID_TOKEN_LIFETIME_S = 300


def parse_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and the hidden fields of the first form of an HTML page (a launch page)."""
    parser = _FormParser()
    parser.feed(page)
    if parser.action is None:
        raise ValueError("the page has no form")
    return parser.action, parser.fields


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and "name" in values:
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


class ThreadedServer:
    """An ASGI app served by uvicorn on a thread, on a free port of 127.0.0.1.

    The port is bound on construction, so the URL is known before the app serves."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()


@dataclass
class Member:
    user_id: str
    name: str
    email: str
    roles: list[str]


@dataclass
class ResourceLink:
    id: str
    title: str
    url: str | None = None  # set by deep linking: where its launches go
    custom: dict[str, str] = field(default_factory=dict)


@dataclass
class Group:
    id: str
    name: str
    members: list[str]  # user ids
    set_id: str | None = None

    def listed(self) -> dict[str, Any]:
        """As the groups service lists it."""
        shown: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.set_id is not None:
            shown["set_id"] = self.set_id
        return shown


@dataclass
class Course:
    id: str
    title: str
    label: str
    members: dict[str, Member] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    group_sets: dict[str, str] = field(default_factory=dict)  # id -> name
    links: dict[str, ResourceLink] = field(default_factory=dict)
    line_items: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URL
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by line item URL

    def group_enrollments(self, user_id: str) -> list[dict[str, str]]:
        return [{"group_id": group.id} for group in self.groups.values()
                if user_id in group.members]

    def link(self, link_id: str) -> ResourceLink:
        return self.links.setdefault(link_id, ResourceLink(link_id, f"Resource {link_id}"))

    def latest_scores(self, line_item_url: str) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for score in self.scores.get(line_item_url, []):
            latest[score["userId"]] = score
        return latest


@dataclass
class _PendingLaunch:
    user_id: str
    context_id: str
    message_type: str
    target_link_uri: str
    resource_link_id: str | None
    custom: dict[str, str]
    deep_linking_data: str | None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration

    def get_access_token(self, token_request_data: dict[str, Any]) -> dict[str, Any]:
        # the library checks the request and grants the AGS and NRPS scopes it knows;
        # the token is issued again, as the library issues it, with the groups scope added
        granted: dict[str, Any] = super().get_access_token(token_request_data)
        scopes = granted["scope"].split()
        scopes += [scope for scope in str(token_request_data["scope"]).split()
                   if scope in EXTRA_GRANTED_SCOPES and scope not in scopes]
        if scopes == granted["scope"].split():
            return granted
        registration = self.get_registration()
        key = registration.get_platform_private_key()
        assert key is not None
        scope = " ".join(scopes)
        token = Registration.encode_and_sign(
            {"sub": registration.get_client_id(), "iss": registration.get_iss(),
             "scopes": scope}, key, expiration=ACCESS_TOKEN_LIFETIME_S)
        return {**granted, "access_token": token, "scope": scope}

    def get_tool_key_set(self) -> JWKS:
        # fetched for every check, as the library would only once: the tool may rotate keys
        url = self.get_registration().get_tool_key_set_url()
        assert url is not None
        keys = self.fetch_public_key(url)
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise LtiException(f"{url} is not a JWKS")
        return keys


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    """The id_token and its auto-submitting form, for one authorization request."""

    def __init__(self, params: dict[str, str], config: _Config,
                 sign: Callable[[Registration, dict[str, Any]], str]) -> None:
        super().__init__(None, config)  # type: ignore[arg-type]  # reads params instead
        self._params = params
        self._sign = sign
        self.form: dict[str, str] = {}

    def get_preflight_response(self) -> dict[str, Any]:
        return self._params

    def generate_launch_request(self) -> LaunchData:
        # the library's own signs with the platform key only; forgeries need other signers
        message, state = self.get_launch_data()
        assert self._registration is not None
        return {"id_token": self._sign(self._registration, message), "state": state}

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> HTMLResponse:
        self.form = {"id_token": launch_data["id_token"], "state": launch_data["state"]}
        inputs = "".join(f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
                         for name, value in self.form.items())
        action = html.escape(launch_data["launch_url"])
        return HTMLResponse(
            f'<!DOCTYPE html><html><body><form method="post" action="{action}">{inputs}'
            "</form><script>document.forms[0].submit()</script></body></html>")


class _LibRequest(lti_request.Request):
    """A request as lti1p3platform's services read it (its FastAPI adapter is unfinished)."""

    def __init__(self, request: Request, body: Any) -> None:
        self._body = body
        super().__init__(request)

    def build_metadata(self, request: Request) -> lti_request.TRequest:
        return {"method": request.method, "get_data": dict(request.query_params),
                "form_data": {}, "headers": request.headers, "path": request.url.path,
                "content_type": request.headers.get("content-type"), "json": self._body}


class _Grades(AssignmentsGradesService):
    """AGS over one course; each operation states the scopes that allow it."""

    def __init__(self, request: _LibRequest, config: _Config, course: Course,
                 lineitems_url: str, scopes: list[str]) -> None:
        super().__init__(request, config, lineitems_url)
        self.course = course
        self.scopes = scopes

    @property
    def allowed_scopes(self) -> list[str]:
        return self.scopes

    def find_lineitems(self, page: int = 1, limit: int | None = None,
                       line_item_id: str | None = None, resource_link_id: str | None = None,
                       resource_id: str | None = None, tag: str | None = None,
                       **_: Any) -> TPage:
        wanted = {"id": line_item_id, "resourceLinkId": resource_link_id,
                  "resourceId": resource_id, "tag": tag}
        found = [dict(item) for item in self.course.line_items.values()
                 if all(value is None or item.get(key) == value
                        for key, value in wanted.items())]
        return {"content": found, "has_next": False}

    def find_lineitem(self, line_item_id: str) -> Any:
        return dict(self._line_item(line_item_id))

    def create_lineitem(self, creation_data: Any) -> Any:
        url = f"{self.ags.lineitems_url}/{secrets.token_hex(4)}"
        self.course.line_items[url] = {"id": url, **_line_item_fields(self.course,
                                                                      creation_data)}
        return dict(self.course.line_items[url])

    def update_lineitem(self, update_data: Any) -> Any:
        url = update_data["id"]
        self._line_item(url)
        self.course.line_items[url] = {"id": url, **_line_item_fields(self.course,
                                                                      update_data)}
        return dict(self.course.line_items[url])

    def delete_lineitem(self, line_item_id: str) -> None:
        self._line_item(line_item_id)
        del self.course.line_items[line_item_id]
        self.course.scores.pop(line_item_id, None)

    def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        self._line_item(line_item_id)
        _check_score(score)
        if score["userId"] not in self.course.members:
            raise LtiServiceException(
                f"userId {score['userId']!r} is not a member of course {self.course.id!r}",
                422)
        previous = self.course.latest_scores(line_item_id).get(score["userId"])
        if previous and _when(score) < _when(previous):
            raise LtiServiceException("a later score of this user was taken already", 409)
        self.course.scores.setdefault(line_item_id, []).append(dict(score))
        return UpdateScoreStatus.SUCCESS if previous else UpdateScoreStatus.CREATED

    def get_results(self, line_item_id: str, page: int = 1, limit: int | None = None,
                    user_id: str | None = None, **_: Any) -> TPage:
        item = self._line_item(line_item_id)
        latest = self.course.latest_scores(line_item_id)
        results = [_result(item, score) for uid, score in latest.items()
                   if user_id is None or uid == user_id]
        return {"content": results, "has_next": False}

    def _line_item(self, url: str) -> dict[str, Any]:
        try:
            return self.course.line_items[url]
        except KeyError:
            raise LineItemNotFoundException(url) from None


class _Roster(NamesRoleProvisioningService):
    def __init__(self, request: _LibRequest, config: _Config, course: Course,
                 memberships_url: str) -> None:
        super().__init__(request, config, memberships_url)
        self.course = course

    def get_member_data_page(self, page: int = 1, limit: int | None = None,
                             role: str | None = None, since: str | None = None,
                             **_: Any) -> TPage:
        members = [_member(self.course, m) for m in self.course.members.values()
                   if role is None or any(r == role or r.endswith("#" + role)
                                          for r in m.roles)]
        return {"content": members, "has_next": False}

    def get_context_by_id(self) -> Context:
        return Context(id=self.course.id, label=self.course.label, title=self.course.title)

    def is_resource_link_valid(self, context_id: str, resource_link_id: str) -> bool:
        return resource_link_id in self.course.links


def _member(course: Course, member: Member) -> dict[str, Any]:
    shown: dict[str, Any] = {"user_id": member.user_id, "name": member.name,
                             "email": member.email, "roles": list(member.roles),
                             "status": "Active"}
    enrollments = course.group_enrollments(member.user_id)
    if enrollments:  # as Canvas: only for a member of some group
        shown["group_enrollments"] = enrollments
    return shown


class _Groups(BasicService):
    """The course groups service over one course, its token checked by the library."""

    def __init__(self, request: _LibRequest, config: _Config, course: Course) -> None:
        super().__init__()
        self.request = request
        self.platform_config = config
        self.course = course

    @property
    def allowed_scopes(self) -> list[str]:
        return [CONTEXT_GROUPS_READONLY]

    @authenticate(allow_methods=["GET"], accept=GROUPS_MEDIA_TYPE)
    def handle_get_groups(self) -> LtiResponse:
        user_id = self.request.get_data.get("user_id")
        groups = [group.listed() for group in self.course.groups.values()
                  if user_id is None or user_id in group.members]
        return LtiResponse(result={"groups": groups}, code=200, message="success")

    @authenticate(allow_methods=["GET"], accept=GROUP_SETS_MEDIA_TYPE)
    def handle_get_group_sets(self) -> LtiResponse:
        sets = [{"id": set_id, "name": name} for set_id, name in self.course.group_sets.items()]
        return LtiResponse(result={"sets": sets}, code=200, message="success")


def _line_item_fields(course: Course, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise LtiServiceException("a line item is a JSON object", 400)
    if not isinstance(data.get("label"), str) or not data["label"]:
        raise LtiServiceException("a line item needs a label", 400)
    if not _is_number(data.get("scoreMaximum")) or data["scoreMaximum"] <= 0:
        raise LtiServiceException("a line item needs a positive scoreMaximum", 400)
    link = data.get("resourceLinkId")
    if link is not None and link not in course.links:
        raise LtiServiceException(f"no resource link {link!r} in course {course.id!r}", 400)
    return {key: value for key, value in data.items() if key != "id"}


def _check_score(score: Any) -> None:
    # the library leaves a score unchecked; these are the spec's MUSTs
    if not isinstance(score, dict):
        raise LtiServiceException("a score is a JSON object", 400)
    if not isinstance(score.get("userId"), str):
        raise LtiServiceException("a score needs a userId", 400)
    if score.get("activityProgress") not in {p.value for p in ActivityProgress}:
        raise LtiServiceException("a score needs a valid activityProgress", 400)
    if score.get("gradingProgress") not in {p.value for p in GradeProgress}:
        raise LtiServiceException("a score needs a valid gradingProgress", 400)
    try:
        aware = _when(score).tzinfo is not None
    except (TypeError, ValueError):
        aware = False
    if not aware:
        raise LtiServiceException("a score needs an ISO 8601 timestamp with its offset", 400)
    if score.get("scoreGiven") is not None:  # null: no score now, the previous one cleared
        if not _is_number(score["scoreGiven"]) or score["scoreGiven"] < 0:
            raise LtiServiceException("scoreGiven must be a number, at least 0", 400)
        if not _is_number(score.get("scoreMaximum")) or score["scoreMaximum"] <= 0:
            raise LtiServiceException("a scoreGiven needs a positive scoreMaximum", 400)


def _result(item: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    result = {"id": f"{item['id']}/results/{score['userId']}", "scoreOf": item["id"],
              "userId": score["userId"], "resultMaximum": item["scoreMaximum"]}
    if score.get("scoreGiven") is not None:
        # like an LMS's gradebook: the score scaled to the line item's maximum
        result["resultScore"] = score["scoreGiven"] / score["scoreMaximum"] * item[
            "scoreMaximum"]
    if "comment" in score:
        result["comment"] = score["comment"]
    return result


def _when(score: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(score["timestamp"])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


def _audiences(claims: dict[str, Any]) -> list[Any]:
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [aud]


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise _Refused(415, f"expected a JSON body, not {content_type or 'no content type'}")
    try:
        return await request.json()
    except ValueError:
        raise _Refused(400, "the body is not valid JSON") from None


def _http(response: LtiResponse, *, listing: bool = False) -> Response:
    """The library's service response as an HTTP one (a listing is a bare JSON array)."""
    if response.code >= 400:
        return JSONResponse({"error": response.message}, status_code=response.code)
    if response.result is None:
        return Response(status_code=response.code)
    body = response.result["content"] if listing else response.result
    return JSONResponse(body, status_code=response.code, media_type=response.media_type)


class LtiPlatform:
    """An LMS for one tool (one client id, one deployment), on a real HTTP server."""

    def __init__(self, tool_url: str, *, client_id: str = "ml-autograder",
                 deployment_id: str = "deployment-1") -> None:
        self.tool_url = tool_url.rstrip("/")
        self.client_id = client_id
        self.deployment_id = deployment_id
        self._courses: dict[str, Course] = {}
        self._pending: dict[str, _PendingLaunch] = {}  # by lti_message_hint
        self._deep_linking_data: dict[str, str] = {}  # data sent -> its course
        self._seen_nonces: set[str] = set()
        self._seen_assertions: set[str] = set()
        self._tamper: str | None = None
        self._last_form: dict[str, str] | None = None
        self._deep_link_items: list[dict[str, Any]] = []
        # one lock for the data and for the library's config, which keeps per-call state
        self._lock = threading.RLock()
        self._server: ThreadedServer | None = None
        self._config: _Config | None = None
        self._forger_pem = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ThreadedServer(self._app())
        private_pem, public_pem = _rsa_pem_pair()
        self._forger_pem, _ = _rsa_pem_pair()
        registration = (Registration()
                        .set_iss(self.issuer)
                        .set_client_id(self.client_id)
                        .set_deployment_id(self.deployment_id)
                        .set_oidc_login_url(f"{self.tool_url}/lti/login")
                        .set_launch_url(self.tool_launch_url)
                        .set_deeplink_launch_url(self.tool_launch_url)
                        .set_tool_key_set_url(f"{self.tool_url}/lti/jwks")
                        .set_platform_private_key(private_pem)
                        .set_platform_public_key(public_pem))
        self._config = _Config(registration=registration)
        self._config.set_accepted_deeplinking_types(["ltiResourceLink"])
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what the tool is told ------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self._server is None:
            raise RuntimeError("start the platform first: its URL is its port's")
        return self._server.url

    @property
    def auth_login_url(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def auth_token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def key_set_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def tool_launch_url(self) -> str:
        return f"{self.tool_url}/lti/launch"

    def registration(self) -> dict[str, Any]:
        """What the tool stores to trust this platform."""
        return {"issuer": self.issuer, "client_id": self.client_id,
                "deployment_ids": [self.deployment_id], "auth_login_url": self.auth_login_url,
                "auth_token_url": self.auth_token_url, "key_set_url": self.key_set_url}

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/lineitems"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/memberships"

    def groups_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/groups"

    def group_sets_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/group_sets"

    # -- courses, set by tests ------------------------------------------------------------

    def add_context(self, context_id: str, *, title: str | None = None,
                    label: str | None = None) -> None:
        """A course; add_member makes one on first use, with a made-up title."""
        with self._lock:
            course = self._courses.setdefault(
                context_id, Course(context_id, f"Course {context_id}", context_id))
            course.title = title or course.title
            course.label = label or course.label

    def add_member(self, context_id: str, user_id: str, *, name: str, email: str,
                   roles: list[str]) -> None:
        """Enrols (or re-enrols, with new details) a user in a course."""
        with self._lock:
            self.add_context(context_id)
            self._courses[context_id].members[user_id] = Member(user_id, name, email,
                                                                list(roles))

    def add_group_set(self, context_id: str, set_id: str, *, name: str) -> None:
        """A group set (a category of groups) of a course; add_group makes one on first use,
        with a made-up name."""
        with self._lock:
            self._course(context_id).group_sets[set_id] = name

    def add_group(self, context_id: str, group_id: str, *, name: str, members: list[str],
                  set_id: str | None = None) -> None:
        """A group of a course's members (or, with the same id, its new details), in a
        group set if set_id is given."""
        with self._lock:
            course = self._course(context_id)
            strangers = [user_id for user_id in members if user_id not in course.members]
            if strangers:
                raise ValueError(f"{strangers!r} are not members of course {context_id!r}")
            if set_id is not None:
                course.group_sets.setdefault(set_id, f"Group set {set_id}")
            course.groups[group_id] = Group(group_id, name, list(dict.fromkeys(members)),
                                            set_id)

    def add_resource_link(self, context_id: str, resource_link_id: str, *, title: str,
                          url: str | None = None, custom: dict[str, str] | None = None) -> None:
        """A placement of the tool in a course (launches make one on first use)."""
        with self._lock:
            self._course(context_id).links[resource_link_id] = ResourceLink(
                resource_link_id, title, url, dict(custom or {}))

    # -- launches -------------------------------------------------------------------------

    def login_url(self, user_id: str, context_id: str, *, resource_link_id: str | None = None,
                  message_type: str = RESOURCE_LINK_REQUEST,
                  custom: dict[str, str] | None = None,
                  target_link_uri: str | None = None) -> str:
        """The tool's third-party-initiated login URL, as a user's click on a link opens it.

        A resource link's launch goes to its deep-linked URL (if it has one) with its
        custom parameters, which `custom` extends."""
        if message_type not in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
            raise ValueError(f"no launches of {message_type!r}")
        with self._lock:
            course = self._course(context_id)
            if user_id not in course.members:
                raise ValueError(f"{user_id!r} is not a member of course {context_id!r}")
            link = None
            if message_type == RESOURCE_LINK_REQUEST:
                link = course.link(resource_link_id or f"{context_id}-resource-link")
            data = secrets.token_urlsafe(16) if message_type == DEEP_LINKING_REQUEST else None
            if data is not None:
                self._deep_linking_data[data] = context_id
            hint = secrets.token_urlsafe(16)
            self._pending[hint] = _PendingLaunch(
                user_id=user_id, context_id=context_id, message_type=message_type,
                target_link_uri=target_link_uri or (link and link.url) or self.tool_launch_url,
                resource_link_id=link.id if link else None,
                custom={**(link.custom if link else {}), **(custom or {})},
                deep_linking_data=data)
            login = _Login(None, self._lti_config())
            login.set_lti_message_hint(hint=hint)
            login.set_launch_url(self._pending[hint].target_link_uri)
            return str(login.initiate_login(user_id))

    def tamper_next(self, kind: str) -> None:
        """Forges the next id_token: "signature" (another key under the real kid),
        "audience" (another client id), "expired" (an hour ago), "deployment" (unknown)."""
        if kind not in TAMPER_KINDS:
            raise ValueError(f"tamper kind {kind!r} is not one of {sorted(TAMPER_KINDS)}")
        with self._lock:
            self._tamper = kind

    @property
    def last_launch_form(self) -> dict[str, str]:
        """The fields ({"id_token", "state"}) of the last launch form, to post again."""
        with self._lock:
            if self._last_form is None:
                raise LookupError("the platform has issued no launch form yet")
            return dict(self._last_form)

    # -- what tests assert on --------------------------------------------------------------

    def line_items(self, context_id: str) -> list[dict[str, Any]]:
        """A course's line items as AGS shows them (each "id" is its URL), oldest first."""
        with self._lock:
            return [dict(item) for item in self._course(context_id).line_items.values()]

    def scores(self, lineitem: str) -> list[dict[str, Any]]:
        """Every score accepted for a line item (its URL or the URL's last part), in order,
        as the tool posted it."""
        with self._lock:
            for course in self._courses.values():
                for url in course.line_items:
                    if lineitem in (url, url.rsplit("/", 1)[-1]):
                        return [dict(score) for score in course.scores.get(url, [])]
        raise KeyError(f"no line item {lineitem!r}")

    def results(self, context_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """{line item's resourceId, or its label if it has none: {userId: the latest score
        accepted, as posted}} for every line item of a course (with no score: {})."""
        with self._lock:
            course = self._course(context_id)
            return {item.get("resourceId") or item["label"]:
                    {uid: dict(score) for uid, score in course.latest_scores(url).items()}
                    for url, item in course.line_items.items()}

    def resource_links(self, context_id: str) -> list[dict[str, Any]]:
        """A course's resource links: {"id", "title", "url", "custom"}."""
        with self._lock:
            return [{"id": link.id, "title": link.title, "url": link.url,
                     "custom": dict(link.custom)}
                    for link in self._course(context_id).links.values()]

    @property
    def deep_link_items(self) -> list[dict[str, Any]]:
        """Every content item accepted from deep-linking responses, in order."""
        with self._lock:
            return [dict(item) for item in self._deep_link_items]

    # -- the HTTP side ----------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.add_exception_handler(_Refused, _refusal)  # type: ignore[arg-type]
        app.add_api_route("/jwks", self._jwks, methods=["GET"])
        app.add_api_route("/authorize", self._authorize, methods=["GET"])
        app.add_api_route("/token", self._token, methods=["POST"])
        app.add_api_route("/deep_links", self._deep_links, methods=["POST"])
        app.add_api_route("/contexts/{context_id}/memberships", self._memberships,
                          methods=["GET"])
        app.add_api_route("/contexts/{context_id}/groups", self._groups, methods=["GET"])
        app.add_api_route("/contexts/{context_id}/group_sets", self._group_sets,
                          methods=["GET"])
        lineitems = "/contexts/{context_id}/lineitems"
        app.add_api_route(lineitems, self._lineitems, methods=["GET", "POST"])
        app.add_api_route(lineitems + "/{item}", self._lineitem, methods=["GET", "PUT", "DELETE"])
        app.add_api_route(lineitems + "/{item}/scores", self._scores, methods=["POST"])
        app.add_api_route(lineitems + "/{item}/results", self._results, methods=["GET"])
        return app

    def _lti_config(self) -> _Config:
        if self._config is None:
            raise RuntimeError("start the platform first")
        return self._config

    def _course(self, context_id: str) -> Course:
        try:
            return self._courses[context_id]
        except KeyError:
            raise KeyError(f"no course {context_id!r}") from None

    async def _jwks(self) -> JSONResponse:
        return JSONResponse(self._lti_config().get_jwks())

    async def _authorize(self, request: Request) -> Response:
        return await run_in_threadpool(self._launch, dict(request.query_params))

    def _launch(self, params: dict[str, str]) -> Response:
        with self._lock:
            pending = self._authorized(params)
            launch = _Launch(params, self._lti_config(), self._signer(self._tamper))
            self._describe(launch, pending)
            try:
                page = launch.lti_launch()
            except PreflightRequestValidationException:
                raise _Refused(400, "nonce, state, redirect_uri and client_id are all "
                                    "required") from None
            self._tamper = None
            self._last_form = launch.form
            return page  # type: ignore[no-any-return]

    def _authorized(self, params: dict[str, str]) -> _PendingLaunch:
        """The pending launch an OIDC authentication request is for, if it is a valid one."""
        if params.get("response_type") != "id_token":
            raise _Refused(400, "response_type must be id_token")
        if "openid" not in params.get("scope", "").split():
            raise _Refused(400, "scope must include openid")
        if params.get("response_mode") != "form_post":
            raise _Refused(400, "response_mode must be form_post")
        if params.get("client_id") != self.client_id:
            raise _Refused(400, f"unknown client_id {params.get('client_id')!r}")
        if params.get("redirect_uri") != self.tool_launch_url:
            raise _Refused(400, f"redirect_uri {params.get('redirect_uri')!r} is not the "
                                f"tool's registered {self.tool_launch_url!r}")
        if not params.get("nonce"):
            raise _Refused(400, "a nonce is required")
        pending = self._pending.get(params.get("lti_message_hint", ""))
        if pending is None:
            raise _Refused(400, "lti_message_hint names no launch of this platform")
        if params.get("login_hint") != pending.user_id:
            raise _Refused(400, "login_hint is not the user of this launch")
        return pending

    def _describe(self, launch: _Launch, pending: _PendingLaunch) -> None:
        """Puts the launch's claims on the library's message."""
        course = self._courses[pending.context_id]
        member = course.members[pending.user_id]
        launch.set_launch_url(pending.target_link_uri)
        launch.set_user_data(member.user_id, list(member.roles), member.name, member.email)
        launch.set_launch_context_claim(course.id, [COURSE_OFFERING], course.title,
                                        course.label)
        if pending.custom:
            launch.set_custom_parameters_claim(pending.custom)
        if pending.resource_link_id is not None:
            launch.set_resource_link_claim(pending.resource_link_id,
                                           title=course.links[pending.resource_link_id].title)
        launch.set_extra_claims(self._ags_claim(course, pending.resource_link_id))
        launch.set_nrps(self.memberships_url(course.id))
        launch.set_extra_claims({GROUPS_CLAIM: {
            "context_groups_url": self.groups_url(course.id),
            "context_group_sets_url": self.group_sets_url(course.id),
            "scope": [CONTEXT_GROUPS_READONLY], "service_versions": ["1.0"]}})
        if pending.message_type == DEEP_LINKING_REQUEST:
            launch.set_extra_claims({MESSAGE_TYPE_CLAIM: DEEP_LINKING_REQUEST,
                                     **self._deep_linking_claim(pending)})
        if self._tamper == "audience":
            launch.set_extra_claims({"aud": "not-" + self.client_id,
                                     "azp": "not-" + self.client_id})
        elif self._tamper == "deployment":
            launch.set_extra_claims({DEPLOYMENT_CLAIM: "unknown-deployment"})

    def _ags_claim(self, course: Course, link_id: str | None) -> dict[str, Any]:
        # a link with exactly one line item names it, as the spec has a platform do
        own = [url for url, item in course.line_items.items()
               if link_id is not None and item.get("resourceLinkId") == link_id]
        claim = LtiAgs(self.lineitems_url(course.id), own[0] if len(own) == 1 else None,
                       allow_creating_lineitems=True).get_lti_ags_launch_claim()
        # like Moodle, offer the read-only scope too, for a tool that asks for it alone
        claim[AGS_CLAIM]["scope"] = [LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE]
        return claim

    def _deep_linking_claim(self, pending: _PendingLaunch) -> dict[str, Any]:
        claim = LtiDeepLinking(f"{self.issuer}/deep_links").get_lti_deep_linking_launch_claim(
            title="Add an assignment", accept_types={"ltiResourceLink"})
        settings = claim[DEEP_LINKING_SETTINGS_CLAIM]
        # this LMS shows a link in an iframe or a window, never embedded in its own page
        settings["accept_presentation_document_targets"] = ["iframe", "window"]
        settings["data"] = pending.deep_linking_data  # opaque: the library wants a dict
        return claim

    def _signer(self, tamper: str | None) -> Callable[[Registration, dict[str, Any]], str]:
        if tamper == "signature":
            def sign(registration: Registration, message: dict[str, Any]) -> str:
                return Registration.encode_and_sign(message, self._forger_pem,
                                                    {"kid": registration.get_kid()},
                                                    expiration=ID_TOKEN_LIFETIME_S)
        elif tamper == "expired":
            def sign(registration: Registration, message: dict[str, Any]) -> str:
                expired = int(time.time()) - 3600
                key = registration.get_platform_private_key()
                assert key is not None
                return Registration.encode_and_sign(
                    {**message, "iat": expired - ID_TOKEN_LIFETIME_S, "exp": expired}, key,
                    {"kid": registration.get_kid()})
        else:
            def sign(registration: Registration, message: dict[str, Any]) -> str:
                return registration.platform_encode_and_sign(message, ID_TOKEN_LIFETIME_S)
        return sign

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        return await run_in_threadpool(self._grant, fields)

    def _grant(self, form: dict[str, str]) -> JSONResponse:
        """The client-credentials grant of the LTI security framework."""
        if form.get("client_assertion_type", CLIENT_ASSERTION_TYPE) != CLIENT_ASSERTION_TYPE:
            return _oauth_error(400, "invalid_request", "client_assertion_type must be "
                                                        + CLIENT_ASSERTION_TYPE)
        with self._lock:
            try:
                granted = self._lti_config().get_access_token(form)
            except MissingRequiredClaim as error:
                return _oauth_error(400, "invalid_request", str(error))
            except UnsupportedGrantType:
                return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
            except (LtiException, jwt.PyJWTError) as error:
                return _oauth_error(401, "invalid_client", f"client_assertion refused: {error}")
            # the library checked the signature only: who the assertion is from and for
            claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
            if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
                return _oauth_error(401, "invalid_client", "iss and sub must be the client id")
            if self.auth_token_url not in _audiences(claims):
                return _oauth_error(401, "invalid_client", "aud must be the token URL")
            if "exp" not in claims:
                return _oauth_error(401, "invalid_client", "the assertion needs an exp")
            jti = claims.get("jti")
            if jti is not None and jti in self._seen_assertions:
                return _oauth_error(401, "invalid_client", "this assertion was used before")
            if isinstance(jti, str):
                self._seen_assertions.add(jti)
            if not granted["scope"]:
                return _oauth_error(400, "invalid_scope", "no scope this platform grants")
            return JSONResponse({**granted, "token_type": "Bearer"})

    async def _lineitems(self, request: Request, context_id: str) -> Response:
        if request.method == "GET":
            return await self._serve(request, None, context_id, [LINEITEM, LINEITEM_READONLY],
                                     lambda s: s.handle_get_lineitems(), listing=True)
        body = await _json_body(request)
        return await self._serve(request, body, context_id, [LINEITEM],
                                 lambda s: s.handle_create_lineitem())

    async def _lineitem(self, request: Request, context_id: str, item: str) -> Response:
        url = f"{self.lineitems_url(context_id)}/{item}"
        if request.method == "GET":
            return await self._serve(request, None, context_id, [LINEITEM, LINEITEM_READONLY],
                                     lambda s: s.handle_get_lineitem(line_item_id=url))
        if request.method == "DELETE":
            return await self._serve(request, None, context_id, [LINEITEM],
                                     lambda s: s.handle_delete_lineitem(line_item_id=url))
        body = await _json_body(request)
        if not isinstance(body, dict):  # the library updates it in place, unchecked
            raise _Refused(400, "a line item is a JSON object")
        return await self._serve(request, body, context_id, [LINEITEM],
                                 lambda s: s.handle_update_lineitem(line_item_id=url))

    async def _scores(self, request: Request, context_id: str, item: str) -> Response:
        url = f"{self.lineitems_url(context_id)}/{item}"
        body = await _json_body(request)
        return await self._serve(request, body, context_id, [SCORE],
                                 lambda s: s.handle_update_score(line_item_id=url))

    async def _results(self, request: Request, context_id: str, item: str) -> Response:
        url = f"{self.lineitems_url(context_id)}/{item}"
        return await self._serve(request, None, context_id, [RESULT_READONLY],
                                 lambda s: s.handle_get_results(line_item_id=url),
                                 listing=True)

    async def _serve(self, request: Request, body: Any, context_id: str, scopes: list[str],
                     operation: Callable[[_Grades], LtiResponse], *,
                     listing: bool = False) -> Response:
        def serve() -> Response:
            with self._lock:
                course = self._courses.get(context_id)
                if course is None:
                    raise _Refused(404, f"no course {context_id!r}")
                grades = _Grades(_LibRequest(request, body), self._lti_config(), course,
                                 self.lineitems_url(context_id), scopes)
                return _http(_bearer(lambda: grades.handle_resp(lambda: operation(grades))),
                             listing=listing)

        return await run_in_threadpool(serve)

    async def _memberships(self, request: Request, context_id: str) -> Response:
        def serve() -> Response:
            with self._lock:
                course = self._courses.get(context_id)
                if course is None:
                    raise _Refused(404, f"no course {context_id!r}")
                roster = _Roster(_LibRequest(request, None), self._lti_config(), course,
                                 self.memberships_url(context_id))
                return _http(_bearer(lambda: roster.handle_resp(roster.handle_get_members)))

        return await run_in_threadpool(serve)

    async def _groups(self, request: Request, context_id: str) -> Response:
        return await self._serve_groups(request, context_id, lambda s: s.handle_get_groups())

    async def _group_sets(self, request: Request, context_id: str) -> Response:
        return await self._serve_groups(request, context_id,
                                        lambda s: s.handle_get_group_sets())

    async def _serve_groups(self, request: Request, context_id: str,
                            operation: Callable[[_Groups], LtiResponse]) -> Response:
        def serve() -> Response:
            with self._lock:
                course = self._courses.get(context_id)
                if course is None:
                    raise _Refused(404, f"no course {context_id!r}")
                groups = _Groups(_LibRequest(request, None), self._lti_config(), course)
                return _http(_bearer(lambda: groups.handle_resp(lambda: operation(groups))))

        return await run_in_threadpool(serve)

    async def _deep_links(self, request: Request) -> Response:
        form = await request.form()
        token = form.get("JWT")
        if not isinstance(token, str):
            raise _Refused(400, "the form has no JWT field")
        return await run_in_threadpool(self._accept_deep_links, token)

    def _accept_deep_links(self, token: str) -> HTMLResponse:
        """Takes the content items of a tool's deep-linking response into their course:
        each becomes a resource link, with its line item if it brings one."""
        with self._lock:
            config = self._lti_config()
            try:
                claims = config.tool_validate_and_decode(token)
                items = config.validate_deeplinking_resp({"JWT": token})
            except (LtiException, jwt.PyJWTError) as error:
                raise _Refused(401, f"the response is not signed by the tool: {error}") from None
            except (LtiDeepLinkingResponseException, KeyError, TypeError) as error:
                raise _Refused(400, f"not a deep-linking response of ours: {error}") from None
            course = self._courses[self._check_deep_linking_claims(claims)]
            # all checked before any is kept: a refused response leaves the course as it was
            links = [_link_from(course, item, len(course.links) + n)
                     for n, item in enumerate(items, 1)]
            try:
                line_items = [_line_item_fields(course, item["lineItem"])
                              if isinstance(item.get("lineItem"), dict) else None
                              for item in items]
            except LtiServiceException as error:
                raise _Refused(error.status_code, error.message) from None
            for link, line_item in zip(links, line_items, strict=True):
                course.links[link.id] = link
                if line_item is not None:
                    url = f"{self.lineitems_url(course.id)}/{secrets.token_hex(4)}"
                    course.line_items[url] = {"id": url, **line_item, "resourceLinkId": link.id}
            self._seen_nonces.add(claims["nonce"])
            del self._deep_linking_data[claims[DEEP_LINKING_DATA_CLAIM]]
            self._deep_link_items.extend(dict(item) for item in items)
            titles = "".join(f"<li>{html.escape(link.title)}</li>" for link in links)
            return HTMLResponse(f"<!DOCTYPE html><html><body><p>Added {len(links)} item(s) "
                                f"to {html.escape(course.title)}.</p><ul>{titles}</ul>"
                                "</body></html>")

    def _check_deep_linking_claims(self, claims: dict[str, Any]) -> str:
        """The course a verified response is for, once its claims are checked (the library
        checks none of them)."""
        if claims.get("iss") != self.client_id:
            raise _Refused(400, "iss must be the client id")
        if self.issuer not in _audiences(claims):
            raise _Refused(400, "aud must be the platform's issuer")
        if "exp" not in claims:
            raise _Refused(400, "the response needs an exp")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce or nonce in self._seen_nonces:
            raise _Refused(400, "the response needs a fresh nonce")
        if claims.get(DEPLOYMENT_CLAIM) != self.deployment_id:
            raise _Refused(400, f"unknown deployment {claims.get(DEPLOYMENT_CLAIM)!r}")
        data = claims.get(DEEP_LINKING_DATA_CLAIM)
        if not isinstance(data, str) or data not in self._deep_linking_data:
            raise _Refused(400, "data does not echo a pending deep-linking request's")
        return self._deep_linking_data[data]


def _link_from(course: Course, item: dict[str, Any], number: int) -> ResourceLink:
    custom = item.get("custom") or {}
    url = item.get("url")
    if not isinstance(custom, dict) or not isinstance(url, str | None):
        raise _Refused(400, "a content item's url is a string and its custom an object")
    title = str(item.get("title") or f"Item {number}")
    return ResourceLink(f"{course.id}-link-{number}", title, url,
                        {str(key): str(value) for key, value in custom.items()})


def _bearer(handle: Callable[[], LtiResponse]) -> LtiResponse:
    # the library's token check raises PyJWT's and its own errors past its handler
    try:
        return handle()
    except LineItemNotFoundException:
        return LtiResponse(None, 404, "line item not found")
    except (LtiException, jwt.PyJWTError) as error:
        return LtiResponse(None, 401, f"invalid access token: {error}")


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description},
                        status_code=status)


async def _refusal(request: Request, refused: _Refused) -> JSONResponse:
    return JSONResponse({"error": refused.message}, status_code=refused.status)

