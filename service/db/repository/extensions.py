"""Per-student deadlines (extensions, accommodations) and the deadline that applies to
an upload."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import AssignmentPolicy, Extension, GroupMember, User


@dataclass(frozen=True)
class Deadline:
    """What an upload is measured against: the assignment's deadline, or the latest
    extension of the student or of anyone in their group (a group hands in together)."""

    at: datetime | None
    waive_late_policy: bool = False
    extended: bool = False


class Granted(Protocol):
    """An extension as either reader sees it: an ORM row or a Core result row."""

    @property
    def deadline(self) -> datetime: ...

    @property
    def waive_late_policy(self) -> bool: ...


def extension_of(session: Session, *, assignment_id: str, user_id: str) -> Extension | None:
    return session.scalar(select(Extension).where(Extension.assignment_id == assignment_id,
                                                  Extension.user_id == user_id))


def list_extensions(session: Session, *, assignment_id: str) -> list[Extension]:
    return list(session.scalars(select(Extension).where(
        Extension.assignment_id == assignment_id).order_by(Extension.granted_at)))


def set_extension(session: Session, *, assignment_id: str, user: User, deadline: datetime,
                  waive_late_policy: bool, reason: str, granted_by: User) -> Extension:
    found = extension_of(session, assignment_id=assignment_id, user_id=user.id)
    if found is None:
        found = Extension(assignment_id=assignment_id, user_id=user.id)
        session.add(found)
    found.deadline, found.waive_late_policy, found.reason = deadline, waive_late_policy, reason
    found.granted_by, found.granted_at = granted_by.id, utcnow()
    session.flush()
    return found


def delete_extension(session: Session, *, extension: Extension) -> None:
    session.delete(extension)
    session.flush()


def deadline_for(session: Session, *, policy: AssignmentPolicy, user_id: str,
                 group_id: str | None) -> Deadline:
    people = [user_id]
    if group_id is not None:
        people = list(session.scalars(select(GroupMember.user_id).where(
            GroupMember.group_id == group_id))) or [user_id]
    granted = list(session.scalars(select(Extension).where(
        Extension.assignment_id == policy.assignment_id, Extension.user_id.in_(people))))
    return deadline_among(policy.deadline, granted)


def deadline_among(assignment_deadline: datetime | None,
                   granted: Sequence[Granted]) -> Deadline:
    """The deadline that applies, given the extensions granted to the student or their
    group's members."""
    if not granted:
        return Deadline(assignment_deadline)
    latest = max(granted, key=lambda e: e.deadline)
    waived = any(e.waive_late_policy for e in granted)
    # an extension never leaves a student worse off: none where the assignment has no
    # deadline, and none to before the assignment's own
    if not waived and (assignment_deadline is None or latest.deadline < assignment_deadline):
        return Deadline(assignment_deadline)
    return Deadline(latest.deadline, waived, extended=True)
