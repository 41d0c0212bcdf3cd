"""A course's roster from the LMS (LTI Names and Role Provisioning Services): every
active member gets an account and a place in the course before their first launch, so
their scores go back too and staff see who has not handed in."""

from __future__ import annotations

from dataclasses import dataclass

from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import LtiLink, LtiMember, LtiPlatform, Role
from service.lti.keys import ToolKey
from service.lti.launch import LaunchRefused, account, add_member, course_role, granted
from service.lti.tool import TimedSession, tool_conf


class RosterUnavailable(Exception):
    """The course item's LMS offered no roster service, or it failed."""


@dataclass(frozen=True)
class RosterImport:
    members: int  # active members with a role here
    learners: int
    staff: int
    skipped: int  # inactive, or a role with no page here (an observer)


def import_roster(sessions: sessionmaker[Session], key: ToolKey, link_id: int) -> RosterImport:
    with sessions.begin() as db:
        link = db.get(LtiLink, link_id)
        if link is None:
            raise LookupError(f"no LMS link {link_id}")
        if not link.memberships_url:
            raise RosterUnavailable("this course's LMS offered no roster service "
                                    "(Names and Role Provisioning) in its launches")
        platform = db.get(LtiPlatform, link.platform_id)
        assert platform is not None
        issuer, client_id, url = platform.issuer, platform.client_id, link.memberships_url
        context_id, platform_id = link.context_id, platform.id
        registration = tool_conf(db, key).find_registration_by_params(issuer, client_id)
    nrps = NamesRolesProvisioningService(
        ServiceConnector(registration, requests_session=TimedSession()),
        {"context_memberships_url": url})
    try:
        members = nrps.get_members()
    except Exception as exc:
        raise RosterUnavailable(f"the LMS's roster service failed: {exc}") from exc
    learners = staff = skipped = 0
    with sessions.begin() as db:
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
    return RosterImport(members=learners + staff, learners=learners, staff=staff,
                        skipped=skipped)


def members_of(db: Session, link: LtiLink) -> list[LtiMember]:
    return list(db.scalars(select(LtiMember).where(LtiMember.platform_id == link.platform_id,
                                                   LtiMember.context_id == link.context_id)))
