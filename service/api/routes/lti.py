"""LTI 1.3: the tool's endpoints an LMS calls (``/lti/...``: login, launch, keys, deep
linking) and the staff API that registers platforms, shows what went back to them, and
imports rosters."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from service import gradebook
from service.api.deps import (
    DB,
    Admin,
    AppState,
    AssignmentDep,
    Instructor,
    State,
    unit_of_work,
)
from service.db import repository as repo
from service.db.models import LtiLink, LtiPlatform, LtiScore, Role, User
from service.lti import launch as lti_launch
from service.lti import pages, tool
from service.lti.passback import line_item_tag, queue_scores
from service.lti.roster import RosterImport, RosterUnavailable, import_roster, members_of
from service.lti.runtime import PlatformRegistration, register
from service.schemas import ERROR_RESPONSES, UtcTime

log = logging.getLogger("autograder.lti")
pages_router = APIRouter(prefix="/lti", include_in_schema=False)
router = APIRouter(tags=["lti"], responses=ERROR_RESPONSES)


# ------------------------------------------------------------------- what an LMS calls
async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _request(request: Request, params: dict[str, str]) -> tool.LaunchRequest:
    secure = request.url.scheme == "https" or \
        request.app.state.autograder.settings.base_url.startswith("https://")
    return tool.LaunchRequest(params, request.cookies, secure)


@pages_router.api_route("/login", methods=["GET", "POST"])
async def oidc_login(request: Request) -> Response:
    """Third-party-initiated login: the LMS names itself and the user, and the browser
    is sent back to it with a nonce and a state to answer with the signed launch."""
    state: AppState = request.app.state.autograder
    launch_request = _request(request, await _params(request))

    def redirect() -> Response:
        with state.sessions.begin() as db:
            conf = tool.tool_conf(db, state.lti.key)
        login = tool.login(launch_request, conf, state.sessions)
        return login.redirect(f"{state.settings.base_url}/lti/launch")  # type: ignore[no-any-return]

    try:
        return await run_in_threadpool(redirect)
    except Exception as exc:  # PyLTI1p3 raises plain exceptions for some bad requests
        log.warning("LTI login refused: %s", exc)
        return pages.problem("This login could not start", f"{_reason(exc)}.", 400)


@pages_router.post("/launch")
async def launch(request: Request) -> Response:
    state: AppState = request.app.state.autograder
    launch_request = _request(request, await _params(request))
    return await run_in_threadpool(_launch, state, launch_request)


def _launch(state: AppState, launch_request: tool.LaunchRequest) -> Response:
    with state.sessions.begin() as db:
        conf = tool.tool_conf(db, state.lti.key)
    message = tool.launch(launch_request, conf, state.sessions)
    try:
        claims: dict[str, Any] = dict(message.get_launch_data())
    except Exception as exc:  # LtiException, and PyLTI1p3's plain ones for bad input
        # forged, expired, replayed, for another tool, from an unknown deployment
        log.warning("LTI launch refused: %s", exc)
        return pages.problem("This launch could not be verified",
                             f"The autograder could not verify the launch from your LMS "
                             f"({_reason(exc)}).", 401)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        # an anonymous launch (the LMS withholds who the user is): no account to sign in
        return pages.problem("No user in this launch", "The LMS did not say who you are; "
                             "the autograder needs it to keep your hand-ins.", 401)
    role = lti_launch.course_role(list(claims.get(lti_launch.CLAIM + "roles") or []))
    if role is None:
        return pages.problem("No page for your role", "The autograder has pages for a "
                             "course's learners and its teaching staff only.", 403)
    context_id = str(lti_launch.claim(claims, "context").get("id", ""))
    for attempt in (1, 2):
        try:
            return _sign_in(state, message, claims, role, context_id)
        except lti_launch.LaunchRefused as exc:
            return pages.problem("This launch cannot be used", f"{exc}.", 400)
        except IntegrityError:
            if attempt == 2:  # a class's first launches at once: one wins, the rest retry
                raise
    raise AssertionError("unreachable")


def _sign_in(state: AppState, message: tool.ToolLaunch, claims: dict[str, Any], role: Role,
             context_id: str) -> Response:
    with state.sessions.begin() as db:
        platform = lti_launch.platform_of(db, claims)
        role = lti_launch.granted(platform, context_id, role)
        user = lti_launch.account(db, platform, claims, role)
        if message.is_deep_link_launch():
            if role is Role.STUDENT:
                return pages.problem("Staff only", "Only the staff of a course the "
                                     "LMS's registration here lists add items.", 403)
            context = lti_launch.claim(claims, "context")
            choices = [(a.id, a.spec.title) for a in state.catalog.values()]
            return pages.picker(message.get_launch_id(), str(context.get("title", "")),
                                sorted(choices))
        assignment = lti_launch.assignment_of(claims, set(state.catalog))
        if assignment is None:
            return pages.problem(
                "This item opens no assignment", "Course staff: link the item to an "
                "assignment with the LMS's content selection (deep linking), or give it "
                "the custom parameter assignment=<id>.", 404)
        link = lti_launch.remember_link(db, platform, claims, assignment)
        lti_launch.add_member(db, platform.id, link.context_id, user, str(claims["sub"]),
                              learner=role is Role.STUDENT)
        token = lti_launch.sign_in(db, user, state.settings.session_hours)
        repo.audit(db, actor=user, action="lti_launch", target=assignment,
                   detail={"issuer": platform.issuer, "context": link.context_id})
        path = "#/" if role is Role.STUDENT else f"#/assignments/{assignment}"
        return pages.landing(token, path, user.name)


@pages_router.post("/deep-link")
async def deep_link(request: Request) -> Response:
    """Staff picked an assignment: answer the LMS with a signed link to it, its custom
    parameter naming it and a line item for its scores."""
    state: AppState = request.app.state.autograder
    params = await _params(request)
    launch_request = _request(request, params)

    def answer() -> Response:
        with state.sessions.begin() as db:
            conf = tool.tool_conf(db, state.lti.key)
        storage = tool.DatabaseStorage(state.sessions)
        try:
            message = tool.ToolLaunch.from_cache(
                params.get("launch_id", ""), launch_request, conf,
                session_service=tool.OnceSessions(launch_request, storage),
                cookie_service=tool.Cookies(launch_request))
            claims: dict[str, Any] = dict(message.get_launch_data())
        except Exception:
            return pages.problem("This selection has expired",
                                 "Start adding the item again from the LMS.", 400)
        role = lti_launch.course_role(list(claims.get(lti_launch.CLAIM + "roles") or []))
        context_id = str(lti_launch.claim(claims, "context").get("id", ""))
        try:
            with state.sessions.begin() as db:
                platform = lti_launch.platform_of(db, claims)
                if role is not None:
                    role = lti_launch.granted(platform, context_id, role)
        except lti_launch.LaunchRefused as exc:
            return pages.problem("This selection cannot be used", f"{exc}.", 400)
        loaded = state.catalog.get(params.get("assignment", ""))
        if not message.is_deep_link_launch() or role is not Role.INSTRUCTOR:
            return pages.problem("Staff only", "Only course staff add items.", 403)
        if loaded is None:
            return pages.problem("No such assignment", "Choose one of the list.", 404)
        if not storage.take(params["launch_id"]):  # one answer per selection
            return pages.problem("This selection has expired",
                                 "Start adding the item again from the LMS.", 400)
        title = loaded.spec.title
        points = float(loaded.spec.autograded_points + loaded.spec.manual_points)
        resource = (DeepLinkResource().set_url(f"{state.settings.base_url}/lti/launch")
                    .set_title(title).set_custom_params({"assignment": loaded.id})
                    .set_lineitem(LineItem().set_label(title)
                                  .set_score_maximum(points)
                                  .set_resource_id(loaded.id)
                                  .set_tag(line_item_tag(loaded.id))))
        link = message.get_deep_link()
        settings = claims.get(lti_launch.DEEP_LINKING_CLAIM) or {}
        return pages.deep_link_return(str(settings.get("deep_link_return_url", "")),
                                      link.get_response_jwt([resource]), title)

    return await run_in_threadpool(answer)


def _reason(exc: Exception) -> str:
    return str(exc)[:300] or type(exc).__name__


@pages_router.get("/jwks")
def jwks(request: Request) -> dict[str, Any]:
    """The tool's public key: platforms check deep-linking answers and service-token
    requests against it."""
    state: AppState = request.app.state.autograder
    return {"keys": [state.lti.key.jwk]}


# ------------------------------------------------------------------------ staff API
class PlatformOut(PlatformRegistration):
    id: int


class LtiPlatforms(BaseModel):
    tool: pages.ToolConfiguration  # what to enter in the LMS
    platforms: list[PlatformOut]


def _platform_out(p: LtiPlatform) -> PlatformOut:
    return PlatformOut.model_validate({
        "id": p.id, "issuer": p.issuer, "client_id": p.client_id,
        "deployment_ids": list(p.deployment_ids), "auth_login_url": p.auth_login_url,
        "auth_token_url": p.auth_token_url, "key_set_url": p.key_set_url,
        "staff_contexts": list(p.staff_contexts or []),
        "frame_origins": list(p.frame_origins or [])})


@router.get("/lti/platforms", response_model=LtiPlatforms)
@unit_of_work
def list_platforms(user: Instructor, db: DB, state: State) -> LtiPlatforms:
    rows = db.scalars(select(LtiPlatform).order_by(LtiPlatform.id))
    return LtiPlatforms(tool=pages.ToolConfiguration.at(state.settings.base_url),
                        platforms=[_platform_out(p) for p in rows])


@router.post("/lti/platforms", response_model=PlatformOut, status_code=201)
@unit_of_work
def add_platform(body: PlatformRegistration, user: Admin, db: DB) -> PlatformOut:
    """Trust an LMS's launches (or update its URLs and deployments): its users then sign
    in with the role the LMS states, so only administrators register platforms."""
    platform, _new = register(db, body)
    repo.audit(db, actor=user, action="lti_platform", target=str(platform.id),
               detail={"issuer": platform.issuer, "client_id": platform.client_id})
    return _platform_out(platform)


class ScoreOut(BaseModel):
    student: str
    score: float
    max_points: float
    status: str  # pending, sent, failed
    attempts: int
    last_error: str | None
    sent_at: UtcTime | None
    next_attempt_at: UtcTime | None


class LinkOut(BaseModel):
    id: int
    issuer: str
    context_id: str
    context_title: str
    resource_link_id: str
    members: int
    learners: int
    grade_service: bool
    roster_service: bool
    groups_service: bool
    scores: list[ScoreOut]


class AssignmentLti(BaseModel):
    assignment_id: str
    released: bool
    links: list[LinkOut]


def _links(db: DB, assignment_id: str, released: bool) -> AssignmentLti:
    out = []
    for link in db.scalars(select(LtiLink).where(LtiLink.assignment_id == assignment_id)
                           .order_by(LtiLink.id)):
        members = members_of(db, link)
        scores = db.scalars(select(LtiScore).where(LtiScore.link_id == link.id)
                            .order_by(LtiScore.id))
        out.append(LinkOut(
            id=link.id, issuer=link.platform.issuer, context_id=link.context_id,
            context_title=link.context_title, resource_link_id=link.resource_link_id,
            members=len(members), learners=sum(m.learner for m in members),
            grade_service="https://purl.imsglobal.org/spec/lti-ags/scope/score"
                          in (link.ags_scopes or []),
            roster_service=bool(link.memberships_url),
            groups_service=bool(link.groups_url),
            scores=[ScoreOut(student=s.user.name, score=s.score_given,
                             max_points=s.score_maximum, status=s.status,
                             attempts=s.attempts, last_error=s.last_error,
                             sent_at=s.sent_at,
                             next_attempt_at=s.next_attempt_at if s.status == "pending"
                             else None) for s in scores]))
    return AssignmentLti(assignment_id=assignment_id, released=released, links=out)


@router.get("/assignments/{assignment_id}/lti", response_model=AssignmentLti)
@unit_of_work
def assignment_lti(assignment: AssignmentDep, user: Instructor, db: DB) -> AssignmentLti:
    """The LMS items that open the assignment, and every score sent (or waiting) to
    their grade columns."""
    policy = repo.get_policy(db, assignment_id=assignment.id)
    return _links(db, assignment.id, policy.hidden_released)


@router.post("/assignments/{assignment_id}/lti/passback", response_model=AssignmentLti)
@unit_of_work
def send_scores(assignment: AssignmentDep, user: Instructor, db: DB) -> AssignmentLti:
    """Queue every LMS learner's current total again (failed rows included)."""
    policy = repo.get_policy(db, assignment_id=assignment.id)
    if not policy.hidden_released:
        raise HTTPException(409, f"{assignment.id} is not released: scores go to the LMS "
                                 "once it is.")
    queue_scores(db, gradebook.build(db, assignment))
    repo.audit(db, actor=user, action="lti_passback", target=assignment.id)
    return _links(db, assignment.id, True)


@router.post("/lti/links/{link_id}/roster", response_model=RosterImport,
             responses={502: {"description": "the LMS offered no roster service, or it "
                                             "failed (the message says which)"}})
def roster(link_id: Annotated[int, Path(ge=1, le=2**62)], user: Instructor,
           state: State, groups: bool = False) -> RosterImport:
    """Import the course's roster from the LMS (Names and Role Provisioning); with
    ``groups``, its groups as the assignment's groups (Course Groups)."""
    try:
        found: RosterImport = import_roster(state.sessions, state.lti.key, link_id,
                                            groups=groups)
    except LookupError as exc:
        raise HTTPException(404, "There is no such LMS link.") from exc
    except RosterUnavailable as exc:
        raise HTTPException(502, str(exc)) from exc
    with state.sessions.begin() as db:
        actor = db.get(User, user.id)
        assert actor is not None
        repo.audit(db, actor=actor, action="lti_roster", target=str(link_id),
                   detail={"members": found.members})
    return found

