"""A course's roster from the LMS (LTI Names and Role Provisioning Services): every
active member gets an account and a place in the course before their first launch, so
their scores go back too and staff see who has not handed in. On request, the course's
groups too (the LMS's Course Groups Service): they become the assignment's groups,
which hand in together; only when staff ask, as an LMS's project groups need not be
this assignment's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pylti1p3.course_groups import CourseGroupsService
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db import repository as repo
from service.db.models import LtiLink, LtiMember, LtiPlatform, Role, User
from service.db.session import take_write_lock
from service.lti.keys import ToolKey
from service.lti.launch import LaunchRefused, account, add_member, course_role, granted
from service.lti.tool import TimedSession, tool_conf
from service.schemas import account_name_problem


class RosterUnavailable(Exception):
    """The course item's LMS offered no roster service, or it failed."""


GROUPS_SCOPE = "https://purl.imsglobal.org/spec/lti-gs/scope/contextgroup.readonly"


@dataclass(frozen=True)
class RosterImport:
    members: int  # active members with a role here
    learners: int
    staff: int
    skipped: int  # inactive, or a role with no page here (an observer)
    groups: int = 0  # the assignment's groups made or updated from the LMS's
    group_conflicts: tuple[str, ...] = ()  # why a group was left as it was


def import_roster(sessions: sessionmaker[Session], key: ToolKey, link_id: int, *,
                  groups: bool = False) -> RosterImport:
    with sessions.begin() as db:
        link = db.get(LtiLink, link_id)
        if link is None:
            raise LookupError(f"no LMS link {link_id}")
        if not link.memberships_url:
            raise RosterUnavailable("this course's LMS offered no roster service "
                                    "(Names and Role Provisioning) in its launches")
        platform = db.get(LtiPlatform, link.platform_id)
        assert platform is not None
        if groups and not link.groups_url:
            raise RosterUnavailable("this course's LMS offered no groups service "
                                    "(Course Groups) in its launches")
        issuer, client_id, url = platform.issuer, platform.client_id, link.memberships_url
        context_id, platform_id = link.context_id, platform.id
        groups_url, assignment_id = link.groups_url, link.assignment_id
        registration = tool_conf(db, key).find_registration_by_params(issuer, client_id)
    connector = ServiceConnector(registration, requests_session=TimedSession())
    nrps = NamesRolesProvisioningService(connector, {"context_memberships_url": url})
    try:
        members = nrps.get_members()
        lms_groups = CourseGroupsService(connector, {
            "context_groups_url": groups_url or "",
            "scope": [GROUPS_SCOPE],  # type: ignore[list-item]
            "service_versions": ["1.0"]}).get_groups() if groups else []
    except Exception as exc:
        raise RosterUnavailable(f"the LMS's roster service failed: {exc}") from exc
    learners = staff = skipped = 0
    in_group: dict[str, list[User]] = {}
    with sessions.begin() as db:
        take_write_lock(db)  # reads, then writes (and savepoints): see its docstring
        platform = db.get(LtiPlatform, platform_id)
        assert platform is not None
        for member in members:
            role = course_role(list(member.get("roles") or []))
            if role is None or member.get("status", "Active") != "Active" \
                    or not isinstance(member.get("user_id"), str) or not member["user_id"]:
                skipped += 1
                continue
            role = granted(platform, context_id, role)
            claims = {"sub": member["user_id"], "email": member.get("email"),
                      "name": member.get("name")}
            try:
                user = account(db, platform, claims, role)
            except LaunchRefused:  # an account staff disabled stays out
                skipped += 1
                continue
            add_member(db, platform_id, context_id, user, str(member["user_id"]),
                       learner=role is Role.STUDENT)
            learners += role is Role.STUDENT
            staff += role is not Role.STUDENT
            if role is Role.STUDENT:
                enrolments: Any = member.get("group_enrollments") or []
                for enrolment in enrolments if isinstance(enrolments, list) else []:
                    if isinstance(enrolment, dict):
                        in_group.setdefault(str(enrolment.get("group_id")), []).append(user)
        made, conflicts = _groups(db, assignment_id, lms_groups, in_group)
    return RosterImport(members=learners + staff, learners=learners, staff=staff,
                        skipped=skipped, groups=made, group_conflicts=tuple(conflicts))


def _groups(db: Session, assignment_id: str, lms_groups: list[Any],
            in_group: dict[str, list[User]]) -> tuple[int, list[str]]:
    """The LMS's groups as the assignment's (by name); a student already in another
    group of the assignment is a conflict staff resolve, and that group stays as it was."""
    made, conflicts = 0, []
    for group in lms_groups:
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            continue
        name = group["name"].strip()[:200]
        members = in_group.get(str(group.get("id")), [])
        if not name or account_name_problem(name) or not members:
            continue
        try:
            with db.begin_nested():
                repo.set_group(db, assignment_id=assignment_id, name=name, members=members)
            made += 1
        except repo.GroupConflictError as exc:
            conflicts.append(f"{name}: {exc}")
    return made, conflicts


def members_of(db: Session, link: LtiLink) -> list[LtiMember]:
    return list(db.scalars(select(LtiMember).where(LtiMember.platform_id == link.platform_id,
                                                   LtiMember.context_id == link.context_id)))
