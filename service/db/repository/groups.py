"""Groups of students handing in together, per assignment."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db.models import (
    GroupMember,
    StudentGroup,
    Submission,
    User,
)


class GroupConflictError(ValueError):
    """A student is already in another group for this assignment."""


def group_of(session: Session, *, assignment_id: str, user_id: str) -> StudentGroup | None:
    return session.scalar(select(StudentGroup).join(GroupMember).where(
        GroupMember.assignment_id == assignment_id, GroupMember.user_id == user_id))


def get_group(session: Session, *, assignment_id: str, name: str) -> StudentGroup | None:
    return session.scalar(select(StudentGroup).where(
        StudentGroup.assignment_id == assignment_id, StudentGroup.name == name))


def set_group(session: Session, *, assignment_id: str, name: str,
              members: list[User]) -> StudentGroup:
    """Create the group or replace its members. A student in another group of the same
    assignment is a conflict: they must leave it first (staff move them explicitly)."""
    group = get_group(session, assignment_id=assignment_id, name=name)
    if group is None:
        group = StudentGroup(assignment_id=assignment_id, name=name)
        session.add(group)
        session.flush()
    for user in members:
        other = group_of(session, assignment_id=assignment_id, user_id=user.id)
        if other is not None and other.id != group.id:
            raise GroupConflictError(f"{user.name} is already in group {other.name!r}")
    wanted = {u.id for u in members}
    for member in list(group.members):
        if member.user_id not in wanted:
            group.members.remove(member)
    session.flush()  # the removals first: a member may come back under the same key
    present = {m.user_id for m in group.members}
    for user in members:
        if user.id not in present:
            group.members.append(GroupMember(assignment_id=assignment_id, user_id=user.id))
    session.flush()
    return group


def list_groups(session: Session, *, assignment_id: str) -> list[StudentGroup]:
    return list(session.scalars(select(StudentGroup).where(
        StudentGroup.assignment_id == assignment_id).order_by(StudentGroup.name)).all())


def delete_group(session: Session, *, group: StudentGroup) -> None:
    """The group's past submissions stay, handed in by their submitter alone."""
    session.execute(update(Submission).where(Submission.group_id == group.id)
                    .values(group_id=None))
    session.delete(group)
    session.flush()
