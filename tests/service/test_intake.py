"""The accept path's Core statements read what the ORM readers read and write the rows the
ORM would write, on SQLite and on PostgreSQL: the rules (tokens, sessions, groups,
extensions, the hourly limit) live once, so a divergence here is a student's upload
measured against the wrong deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from service.auth import hash_token
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import (
    Blob,
    LatePolicy,
    Role,
    RunStatus,
    RunTrigger,
    Submission,
    WebSession,
)
from service.db.repository import intake
from tests.service.test_repository import database_url, sessions  # noqa: F401


@pytest.fixture()
def course(sessions):  # noqa: F811
    """Ann and Ben hand in as a group; Cal alone; the assignment is due in a day."""
    with sessions.begin() as s:
        ann, ann_token = repo.create_user(s, name="ann", role=Role.STUDENT)
        ben, _ = repo.create_user(s, name="ben", role=Role.STUDENT)
        cal, _ = repo.create_user(s, name="cal", role=Role.STUDENT)
        repo.create_user(s, name="prof", role=Role.INSTRUCTOR)
        policy = repo.get_policy(s, assignment_id="hw")
        policy.deadline, policy.late_policy, policy.max_per_hour = (
            utcnow() + timedelta(days=1), LatePolicy.REJECT, 3)
        repo.set_group(s, assignment_id="hw", name="pair", members=[ann, ben])
        web = repo.start_session(s, user=cal, lifetime=timedelta(hours=1))
        expired = repo.start_session(s, user=ben, lifetime=timedelta(hours=1))
    with sessions.begin() as s:
        s.execute(update(WebSession).where(WebSession.token_hash == hash_token(expired))
                  .values(expires_at=utcnow() - timedelta(minutes=1)))
    return {"tokens": {"api": ann_token, "session": web, "expired": expired,
                       "unknown": "not-a-token"}}


def terms_and_orm_deadline(sessions, name: str):  # noqa: F811
    with sessions() as s:
        user = repo.user_by_name(s, name=name)
        policy = repo.get_policy(s, assignment_id="hw")
        group = repo.group_of(s, assignment_id="hw", user_id=user.id)
        orm = repo.deadline_for(s, policy=policy, user_id=user.id,
                                group_id=group.id if group else None)
        with s.connection() as conn:
            terms = intake.upload_terms(conn, assignment_id="hw", user_id=user.id)
    return terms, orm


def test_the_caller_is_whoever_the_orm_finds_for_every_kind_of_token(sessions, course):  # noqa: F811
    with sessions() as s:
        conn = s.connection()
        for kind, token in course["tokens"].items():
            orm = repo.user_by_token(s, token=token)
            core = intake.caller(conn, token=token)
            assert (core.id if core else None) == (orm.id if orm else None), kind
            assert (core is None) == (kind in ("expired", "unknown")), kind


@pytest.mark.parametrize("grants", [
    {},
    {"cal": (2, False)},     # his own, later: his deadline moves
    {"cal": (-2, False)},    # earlier than the assignment's: never worse off
    {"ben": (3, False)},     # a group member's counts for the whole group
    {"ann": (-2, True)},     # waived, though earlier
])
def test_upload_terms_agree_with_the_orm_deadline(sessions, course, grants):  # noqa: F811
    with sessions.begin() as s:
        prof = repo.user_by_name(s, name="prof")
        due = repo.get_policy(s, assignment_id="hw").deadline
        for name, (days, waive) in grants.items():
            repo.set_extension(s, assignment_id="hw", user=repo.user_by_name(s, name=name),
                               deadline=due + timedelta(days=days), waive_late_policy=waive,
                               reason="test", granted_by=prof)
    for name in ("ann", "ben", "cal"):
        terms, orm = terms_and_orm_deadline(sessions, name)
        assert terms is not None
        assert terms.deadline == orm, (name, grants)
        assert terms.late_policy is LatePolicy.REJECT and terms.max_per_hour == 3
        assert (terms.group_name == "pair") == (name != "cal")
    # the cases differ: an implementation that ignored extensions would fail one
    if grants == {"ben": (3, False)}:
        assert terms_and_orm_deadline(sessions, "ann")[0].deadline.extended


def test_no_policy_row_yet_is_none_not_a_default(sessions):  # noqa: F811
    with sessions() as s, s.connection() as conn:
        assert intake.upload_terms(conn, assignment_id="never-seen", user_id="x") is None


def test_recorded_uploads_are_the_rows_the_orm_would_make(sessions, course):  # noqa: F811
    now = utcnow()
    with sessions() as s:
        ann = repo.user_by_name(s, name="ann")
        group = repo.group_of(s, assignment_id="hw", user_id=ann.id)
        conn = s.connection()
        recorded = [intake.record_upload(
            conn, assignment_id="hw", user_id=ann.id, sha256="d" * 64, size=10,
            filename=f"hw{i}.ipynb", idempotency_key=f"k{i}", late_days=0,
            group_id=group.id, at=now) for i in range(2)]  # the same bytes twice
        s.commit()
        assert s.scalar(select(func.count()).select_from(Blob)) == 1
        for i, rec in enumerate(recorded):
            submission = s.get(Submission, rec.submission_id)
            run = repo.current_run(s, submission_id=rec.submission_id)
            assert submission.filename == f"hw{i}.ipynb" and submission.group_id == group.id
            assert run.id == rec.run_id and run.status == RunStatus.QUEUED
            assert run.trigger == RunTrigger.SUBMIT and run.attempts == 0 and run.published
        assert repo.claim_next_run(s, worker="w", lease_s=60) in {r.run_id for r in recorded}
        s.rollback()
        # the hourly limit counts the group's uploads for Ben, not his own (none)
        ben = repo.user_by_name(s, name="ben")
        since = now - timedelta(hours=1)
        assert intake.uploads_since(s.connection(), assignment_id="hw", user_id=ben.id,
                                    group_id=group.id, since=since) == 2
        assert intake.uploads_since(s.connection(), assignment_id="hw", user_id=ben.id,
                                    group_id=None, since=since) == 0
        # the same key again is the database's refusal, which the route answers as a retry
        with pytest.raises(IntegrityError):
            intake.record_upload(
                s.connection(), assignment_id="hw", user_id=ann.id, sha256="d" * 64, size=10,
                filename="again.ipynb", idempotency_key="k0", late_days=0, group_id=None,
                at=now)
