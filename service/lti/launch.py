"""What a verified launch means here: who the user is (an account per platform user,
with the role the LMS states), which course and item it came from (the link, with the
course's grade and roster services), and a sign-in session of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import repository as repo
from service.db.base import new_id, utcnow
from service.db.models import LtiAccount, LtiLink, LtiMember, LtiPlatform, Role, User
from service.schemas import account_name_problem

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
GROUPS_CLAIM = "https://purl.imsglobal.org/spec/lti-gs/claim/groupsservice"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
_STAFF = ("Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator")
_LEARNER = ("Learner", "Member", "Student")


def claim(claims: dict[str, Any], name: str) -> dict[str, Any]:
    """An LTI claim that is an object (``context``, ``resource_link``, ``custom``...),
    or an empty one: a platform's odd value is no crash."""
    value = claims.get(CLAIM + name)
    return value if isinstance(value, dict) else {}


class LaunchRefused(Exception):
    """A verified launch this service cannot take (its message is shown to the user)."""


def course_role(roles: list[str]) -> Role | None:
    """Staff for a course's instructors, teaching assistants and designers; a student
    for its learners; None for anyone else (an observer, a mentor): they have no page
    here. Only the course's own roles count: an institution's staff role held by a
    learner in this course does not make them staff of it. A sub-role counts as its
    principal role (``membership/Learner#Instructor`` is a kind of learner)."""
    names = []
    for uri in roles:
        if not isinstance(uri, str):
            continue
        if "/membership/" in uri:  # .../membership/<Principal>#<SubRole>
            names.append(uri.split("/membership/", 1)[1].split("#", 1)[0])
        elif "/membership#" in uri:  # .../membership#<Role>
            names.append(uri.rsplit("#", 1)[1])
        elif "#" not in uri and "/" not in uri:  # a short name (LTI 1.1's "Instructor")
            names.append(uri)
    if any(n in _STAFF for n in names):
        return Role.INSTRUCTOR
    if any(n in _LEARNER for n in names):
        return Role.STUDENT
    return None


def granted(platform: LtiPlatform, context_id: str, role: Role) -> Role:
    """The role a launch may give: staff only from a course the platform's registration
    lists (``staff_contexts``; ``*`` for every course of that LMS). Roles are not per
    course here, so an instructor of any other course (their own sandbox course, say)
    is a student."""
    if role is Role.INSTRUCTOR:
        trusted = platform.staff_contexts or []
        if "*" not in trusted and context_id not in trusted:
            return Role.STUDENT
    return role


def platform_of(db: Session, claims: dict[str, Any]) -> LtiPlatform:
    aud = claims.get("aud")
    client_id = aud[0] if isinstance(aud, list) and aud else aud
    platform = db.scalar(select(LtiPlatform).where(LtiPlatform.issuer == claims.get("iss"),
                                                   LtiPlatform.client_id == client_id))
    if platform is None:  # PyLTI1p3 found the registration a moment ago
        raise LaunchRefused("this LMS is not registered with the autograder")
    return platform


def account(db: Session, platform: LtiPlatform, claims: dict[str, Any], role: Role) -> User:
    """The platform user's account here, made on their first launch and named by their
    email (what the gradebook files match on). A launch raises its role to staff (from a
    trusted course) but never lowers it: a teaching assistant who is a learner in
    another course stays staff; administrators change roles by hand."""
    subject = str(claims["sub"])
    linked = db.scalar(select(LtiAccount).where(LtiAccount.platform_id == platform.id,
                                                LtiAccount.subject == subject))
    if linked is not None:
        user = db.get(User, linked.user_id)
        assert user is not None
    else:
        user = _new_user(db, platform, claims, role)
        db.add(LtiAccount(platform_id=platform.id, subject=subject, user_id=user.id))
    if not repo.token_active(user):
        raise LaunchRefused("this account is disabled here; ask your course staff")
    if role is Role.INSTRUCTOR and user.role == Role.STUDENT:
        repo.audit(db, actor=user, action="lti_role", target=user.id,
                   detail={"from": user.role, "to": role, "issuer": platform.issuer})
        user.role = role
    db.flush()
    return user


def _new_user(db: Session, platform: LtiPlatform, claims: dict[str, Any], role: Role) -> User:
    email = claims.get("email")
    base = email[:180] if isinstance(email, str) else ""
    if not base or account_name_problem(base):  # none, or control characters in it
        base = f"{claims['sub']}@{urlparse(platform.issuer).hostname or 'lms'}"[:180]
        if account_name_problem(base):
            base = f"lti-{new_id()}"
    name, n = base, 1
    while repo.user_by_name(db, name=name) is not None:
        n += 1  # the name is someone else's (made by staff, or another platform's user)
        name = f"{base[:180]} ({n})"
    user, _token = repo.create_user(db, name=name, role=role)
    return user


def assignment_of(claims: dict[str, Any], known: set[str]) -> str | None:
    """The assignment a link opens: its custom parameter (set by deep linking, or by
    staff in the LMS), else the target link's ``?assignment=``."""
    wanted = claim(claims, "custom").get("assignment")
    if not wanted:
        target = str(claims.get(CLAIM + "target_link_uri") or "")
        found = parse_qs(urlparse(target).query).get("assignment")
        wanted = found[0] if found else None
    return wanted if isinstance(wanted, str) and wanted in known else None


def remember_link(db: Session, platform: LtiPlatform, claims: dict[str, Any],
                  assignment_id: str) -> LtiLink:
    """The course item, and the grade and roster services its launch offers (they are
    what passback and roster import use later, without a launch)."""
    deployment = str(claims.get(CLAIM + "deployment_id"))
    resource = claim(claims, "resource_link").get("id")
    context = claim(claims, "context")
    if not resource or not context.get("id"):
        raise LaunchRefused("the launch names no course item (resource link or context)")
    link = db.scalar(select(LtiLink).where(
        LtiLink.platform_id == platform.id, LtiLink.deployment_id == deployment,
        LtiLink.resource_link_id == str(resource)))
    if link is None:
        link = LtiLink(platform_id=platform.id, deployment_id=deployment,
                       resource_link_id=str(resource), context_id=str(context["id"]),
                       assignment_id=assignment_id)
        db.add(link)
    ags = claims.get(AGS_CLAIM)
    nrps = claims.get(NRPS_CLAIM)
    link.context_id = str(context["id"])
    link.context_title = str(context.get("title") or context.get("label") or "")[:255]
    link.assignment_id = assignment_id
    if isinstance(ags, dict):  # a launch without the claim leaves the services as they were
        link.ags_scopes = [s for s in ags.get("scope", []) if isinstance(s, str)][:10]
        link.lineitems_url = _url(ags.get("lineitems")) or link.lineitems_url
        link.lineitem_url = _url(ags.get("lineitem")) or link.lineitem_url
    if isinstance(nrps, dict):
        link.memberships_url = _url(nrps.get("context_memberships_url")) or \
            link.memberships_url
    groups = claims.get(GROUPS_CLAIM)
    if isinstance(groups, dict):
        link.groups_url = _url(groups.get("context_groups_url")) or link.groups_url
    link.updated_at = utcnow()
    db.flush()
    return link


def _url(value: object) -> str | None:
    ok = isinstance(value, str) and value.startswith(("https://", "http://")) \
        and len(value) <= 1000
    return value if ok else None  # type: ignore[return-value]


def add_member(db: Session, platform_id: int, context_id: str, user: User, subject: str,
               *, learner: bool) -> None:
    found = db.scalar(select(LtiMember).where(
        LtiMember.platform_id == platform_id, LtiMember.context_id == context_id,
        LtiMember.user_id == user.id))
    if found is None:
        db.add(LtiMember(platform_id=platform_id, context_id=context_id, user_id=user.id,
                         subject=subject, learner=learner))
    else:
        found.subject, found.learner = subject, learner
    db.flush()


def sign_in(db: Session, user: User, hours: float) -> str:
    return repo.start_session(db, user=user, lifetime=timedelta(hours=hours))
