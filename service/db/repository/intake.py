"""What accepting an upload reads and writes, as Core statements on one connection.

At a deadline every upload runs these. As ORM queries and a unit-of-work flush they cost
about 4 ms of CPU per upload on 2 cores, more than everything else an upload needs
(bench/deadline_burst); as Core statements, whose compiled forms SQLAlchemy caches, they
cost a fraction of that. The rules (deadlines, groups, the hourly limit) are the same
functions the ORM readers use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from service.auth import hash_token
from service.db.base import new_id, utcnow
from service.db.models import (
    AssignmentPolicy,
    Blob,
    Extension,
    GradingRun,
    GroupMember,
    LatePolicy,
    Role,
    RunStatus,
    RunTrigger,
    StudentGroup,
    Submission,
    User,
    WebSession,
)
from service.db.repository.extensions import Deadline, deadline_among

_users = cast(Table, User.__table__)
_sessions = cast(Table, WebSession.__table__)
_policies = cast(Table, AssignmentPolicy.__table__)
_groups = cast(Table, StudentGroup.__table__)
_members = cast(Table, GroupMember.__table__)
_extensions = cast(Table, Extension.__table__)
_submissions = cast(Table, Submission.__table__)
_runs = cast(Table, GradingRun.__table__)
_blobs = cast(Table, Blob.__table__)


@dataclass(frozen=True)
class Caller:
    id: str
    role: Role


@dataclass(frozen=True)
class UploadTerms:
    """What one student's upload to one assignment is measured against."""

    max_upload_bytes: int
    max_per_hour: int | None
    late_policy: LatePolicy
    deadline: Deadline
    group_id: str | None
    group_name: str | None


@dataclass(frozen=True)
class EarlierUpload:
    """The upload an Idempotency-Key already names."""

    id: str
    assignment_id: str
    blob_sha256: str


# Built once: building a statement and its cache key costs about 0.1 ms of CPU each time,
# three times what running it costs (SQLite, 2 cores).
_CALLER = select(_users.c.id, _users.c.role).where(_users.c.token_hash == bindparam("digest"))
_CALLER_BY_SESSION = (select(_users.c.id, _users.c.role)
                      .join(_sessions, _sessions.c.user_id == _users.c.id)
                      .where(_sessions.c.token_hash == bindparam("digest"),
                             _sessions.c.expires_at > bindparam("now")))
_EARLIER = (select(_submissions.c.id, _submissions.c.assignment_id, _submissions.c.blob_sha256)
            .where(_submissions.c.user_id == bindparam("user_id"),
                   _submissions.c.idempotency_key == bindparam("key")))
_POLICY = (select(_policies.c.deadline, _policies.c.late_policy, _policies.c.max_per_hour,
                  _policies.c.max_upload_bytes)
           .where(_policies.c.assignment_id == bindparam("assignment_id")))
_GROUP = (select(_groups.c.id, _groups.c.name)
          .join(_members, _members.c.group_id == _groups.c.id)
          .where(_members.c.assignment_id == bindparam("assignment_id"),
                 _members.c.user_id == bindparam("user_id")))
_GRANTED = select(_extensions.c.deadline, _extensions.c.waive_late_policy).where(
    _extensions.c.assignment_id == bindparam("assignment_id"))
_GRANTED_TO_STUDENT = _GRANTED.where(_extensions.c.user_id == bindparam("user_id"))
# a group hands in together: anyone's extension in it counts for all
_GRANTED_TO_GROUP = _GRANTED.where(_extensions.c.user_id.in_(
    select(_members.c.user_id).where(_members.c.group_id == bindparam("group_id"))))
_SINCE = select(func.count()).select_from(_submissions).where(
    _submissions.c.assignment_id == bindparam("assignment_id"),
    _submissions.c.created_at >= bindparam("since"))
_SINCE_BY_STUDENT = _SINCE.where(_submissions.c.user_id == bindparam("user_id"))
_SINCE_BY_GROUP = _SINCE.where(_submissions.c.group_id == bindparam("group_id"))
_NEW_BLOB = {"sqlite": sqlite.insert(_blobs).on_conflict_do_nothing(index_elements=["sha256"]),
             "postgresql": postgresql.insert(_blobs).on_conflict_do_nothing(
                 index_elements=["sha256"])}
_NEW_SUBMISSION = insert(_submissions)
_NEW_RUN = insert(_runs)


def caller(conn: Connection, *, token: str) -> Caller | None:
    """The user whose API token, or one of whose unexpired sign-in sessions, it is (the
    same rule as ``users.user_by_token``)."""
    digest = hash_token(token)
    row = conn.execute(_CALLER, {"digest": digest}).first()
    if row is None:
        row = conn.execute(_CALLER_BY_SESSION, {"digest": digest, "now": utcnow()}).first()
    return None if row is None else Caller(row.id, Role(row.role))


def earlier_upload(conn: Connection, *, user_id: str, key: str) -> EarlierUpload | None:
    row = conn.execute(_EARLIER, {"user_id": user_id, "key": key}).first()
    return None if row is None else EarlierUpload(row.id, row.assignment_id, row.blob_sha256)


def upload_terms(conn: Connection, *, assignment_id: str, user_id: str) -> UploadTerms | None:
    """None when the assignment has no policy row yet (the ORM's ``get_policy`` makes
    it, once per assignment)."""
    policy = conn.execute(_POLICY, {"assignment_id": assignment_id}).first()
    if policy is None:
        return None
    group = conn.execute(_GROUP, {"assignment_id": assignment_id, "user_id": user_id}).first()
    if group is None:
        granted = conn.execute(_GRANTED_TO_STUDENT, {"assignment_id": assignment_id,
                                                     "user_id": user_id}).all()
    else:
        granted = conn.execute(_GRANTED_TO_GROUP, {"assignment_id": assignment_id,
                                                   "group_id": group.id}).all()
    return UploadTerms(
        max_upload_bytes=policy.max_upload_bytes, max_per_hour=policy.max_per_hour,
        late_policy=LatePolicy(policy.late_policy),
        deadline=deadline_among(policy.deadline, granted),
        group_id=None if group is None else group.id,
        group_name=None if group is None else group.name)


def uploads_since(conn: Connection, *, assignment_id: str, user_id: str,
                  group_id: str | None, since: datetime) -> int:
    """The group's uploads when the student hands in with one (the hourly limit is the
    group's), else the student's own."""
    params = {"assignment_id": assignment_id, "since": since}
    if group_id:
        return conn.execute(_SINCE_BY_GROUP, {**params, "group_id": group_id}).scalar_one()
    return conn.execute(_SINCE_BY_STUDENT, {**params, "user_id": user_id}).scalar_one()


@dataclass(frozen=True)
class Recorded:
    submission_id: str
    run_id: str


def record_upload(conn: Connection, *, assignment_id: str, user_id: str, sha256: str,
                  size: int, filename: str, idempotency_key: str | None, late_days: int,
                  group_id: str | None, at: datetime) -> Recorded:
    """The blob's row (kept when another upload made it), the submission and its queued
    run, in the caller's transaction."""
    conn.execute(_NEW_BLOB[conn.dialect.name], {"sha256": sha256, "size": size,
                                                "created_at": at})
    recorded = Recorded(submission_id=new_id(), run_id=new_id())
    conn.execute(_NEW_SUBMISSION, {
        "id": recorded.submission_id, "assignment_id": assignment_id, "user_id": user_id,
        "blob_sha256": sha256, "filename": filename, "idempotency_key": idempotency_key,
        "late_days": late_days, "group_id": group_id, "created_at": at})
    conn.execute(_NEW_RUN, {
        "id": recorded.run_id, "submission_id": recorded.submission_id,
        "trigger": RunTrigger.SUBMIT, "triggered_by": user_id, "published": True,
        "status": RunStatus.QUEUED, "created_at": at})
    return recorded
