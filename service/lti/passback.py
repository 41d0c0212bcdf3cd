"""Scores back to the LMS (LTI Assignment and Grade Services), through an outbox.

Releasing an assignment (or publishing a regrade of a released one) writes each LMS
learner's total into ``lti_scores``; afterwards the sender looks again every half
minute, so a grading that finishes later, a grade given by hand or a learner's first
launch reaches the LMS too, and only what changed is sent again. The sender posts each
row to the course item's line item, under that learner's own id at the platform, and
retries with backoff while the platform fails. Staff see every row's state; nothing is
written for an assignment that is not released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from graders import LoadedAssignment
from service import gradebook
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import AssignmentPolicy, LtiLink, LtiMember, LtiPlatform, LtiScore, User
from service.gradebook import Gradebook, RowStatus
from service.lti.keys import ToolKey
from service.lti.tool import REQUEST_TIMEOUT_S, TimedSession, tool_conf

log = logging.getLogger("autograder.lti")
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
# Canvas keeps a score's submission time from this extension of the AGS score
CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
MAX_ATTEMPTS = 8
BACKOFF_S = 5.0  # doubled per failure, up to an hour: 5 s, 10 s, ... about 10 min in all
CLAIM_S = 120.0  # a row being sent is not due again before this (another sender skips it)


class Status:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS; staff can send it again


def line_item_tag(assignment_id: str) -> str:
    """The tag of the line item a course item's scores go to, the same whether deep
    linking made it or the first send did."""
    return f"ml-autograder:{assignment_id}"


def queue_if_released(db: Session, assignment: LoadedAssignment, *, force: bool = True) -> int:
    """The totals, once the assignment is released (before, nothing goes to the LMS);
    without ``force`` only those that differ from what was queued last."""
    if not repo.get_policy(db, assignment_id=assignment.id).hidden_released:
        return 0
    return queue_scores(db, gradebook.build(db, assignment), force=force)


def queue_scores(db: Session, book: Gradebook, *, force: bool = True) -> int:
    """Each LMS learner's graded total for every course item that opens the assignment,
    as a row to send (replacing the row queued before). Returns how many were queued."""
    rows = {r.student: r for r in book.rows
            if r.status is RowStatus.GRADED and r.total is not None and r.submitted_at}
    queued = 0
    now = utcnow()
    for link in db.scalars(select(LtiLink).where(LtiLink.assignment_id == book.assignment_id)):
        if SCORE_SCOPE not in (link.ags_scopes or []):
            continue  # this course's LMS offered no score service for the item
        members = db.scalars(select(LtiMember).where(
            LtiMember.platform_id == link.platform_id, LtiMember.context_id == link.context_id,
            LtiMember.learner.is_(True)))
        for member in members:
            user = db.get(User, member.user_id)
            row = rows.get(user.name) if user is not None else None
            if row is None or row.total is None or row.submitted_at is None:
                continue
            score = dict(subject=member.subject, score_given=round(row.total, 4),
                         score_maximum=book.max_points,
                         grading_progress="PendingManual" if row.pending else "FullyGraded",
                         comment=(f"{row.pending:g} points still to be graded by hand"
                                  if row.pending else ""))
            found = db.scalar(select(LtiScore).where(LtiScore.link_id == link.id,
                                                     LtiScore.user_id == member.user_id))
            if found is not None and not force and all(
                    getattr(found, k) == v for k, v in score.items()):
                continue  # sent (or failed) as it stands: a refresh sends nothing new
            values: dict[str, Any] = dict(
                score, submitted_at=row.submitted_at, scored_at=now, status=Status.PENDING,
                attempts=0, next_attempt_at=now, last_error=None, updated_at=now)
            if found is None:
                db.add(LtiScore(link_id=link.id, user_id=member.user_id, **values))
            else:
                for key, value in values.items():
                    setattr(found, key, value)
            queued += 1
    db.flush()
    return queued


@dataclass(frozen=True)
class _Outgoing:
    score_id: int
    version: datetime  # the row's updated_at when claimed: a newer queueing wins
    link_id: int
    platform_id: int
    issuer: str
    client_id: str
    scopes: list[str]
    lineitems_url: str | None
    lineitem_url: str | None
    resource_link_id: str
    assignment_id: str
    grade: Grade


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_S * 2 ** max(attempts - 1, 0), 3600.0))


@dataclass
class _Round:
    """One sending round: a service connector per platform (its access token is asked
    for once), and the platforms that did not answer (their other rows wait)."""

    connectors: dict[int, ServiceConnector] = field(default_factory=dict)
    unreachable: set[int] = field(default_factory=set)


class PassbackSender:
    """The thread that sends due scores every ``interval_s`` and, every ``refresh_s``,
    queues the released assignments' totals that changed."""

    def __init__(self, sessions: sessionmaker[Session], key: Callable[[], ToolKey],
                 titles: Callable[[str], str], interval_s: float = 2.0,
                 assignments: Callable[[str], LoadedAssignment | None] | None = None,
                 refresh_s: float = 30.0) -> None:
        self._sessions, self._key, self._titles = sessions, key, titles
        self._assignments = assignments
        self._interval_s, self._refresh_s = interval_s, refresh_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refreshed = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lti-passback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=REQUEST_TIMEOUT_S + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if time.monotonic() - self._refreshed >= self._refresh_s:
                    self._refreshed = time.monotonic()
                    self.refresh()
                self.send_due()
            except Exception:  # the next round tries again; the rows say what failed
                log.exception("LTI passback round failed")

    def refresh(self) -> int:
        """Queue what changed in the released assignments that LMS items open."""
        if self._assignments is None:
            return 0
        queued = 0
        with self._sessions.begin() as db:
            linked = set(db.scalars(select(LtiLink.assignment_id).distinct()))
            released = set(db.scalars(select(AssignmentPolicy.assignment_id).where(
                AssignmentPolicy.hidden_released.is_(True))))
            for assignment_id in sorted(linked & released):
                loaded = self._assignments(assignment_id)
                if loaded is not None:
                    queued += queue_scores(db, gradebook.build(db, loaded), force=False)
        return queued

    def send_due(self, limit: int = 50) -> int:
        with self._sessions.begin() as db:
            due = list(db.scalars(select(LtiScore.id).where(
                LtiScore.status == Status.PENDING, LtiScore.next_attempt_at <= utcnow())
                .order_by(LtiScore.next_attempt_at).limit(limit)))
        this_round = _Round()
        for score_id in due:
            if self._stop.is_set():
                break
            self._send(score_id, this_round)
        return len(due)

    def _send(self, score_id: int, this_round: _Round) -> None:
        outgoing = self._claim(score_id)
        if outgoing is None or outgoing.platform_id in this_round.unreachable:
            if outgoing is not None:  # its platform did not answer this round: later
                self._settle(outgoing, "the LMS did not answer (tried again later)",
                             count=False)
            return
        error: str | None = None
        try:
            self._post(outgoing, this_round)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("LTI score %s not sent: %s", score_id, error)
            if isinstance(exc, requests.ConnectionError | requests.Timeout):
                this_round.unreachable.add(outgoing.platform_id)
        self._settle(outgoing, error)

    def _claim(self, score_id: int) -> _Outgoing | None:
        """The row, claimed for this sender (its ``next_attempt_at`` moved past the
        claim): a second API process's sender skips it."""
        with self._sessions.begin() as db:
            row = db.get(LtiScore, score_id)
            now = utcnow()
            if row is None or row.status != Status.PENDING or row.next_attempt_at > now:
                return None
            claimed = db.execute(update(LtiScore).where(
                LtiScore.id == score_id, LtiScore.updated_at == row.updated_at)
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_S), updated_at=now))
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            link = row.link
            platform = db.get(LtiPlatform, link.platform_id)
            assert platform is not None
            progress = row.grading_progress
            grade = (Grade().set_score_given(row.score_given)
                     .set_score_maximum(row.score_maximum)
                     # when it was scored, which only grows: an LMS refuses a score whose
                     # timestamp is not newer than the one it holds (a regrade's would be)
                     .set_timestamp(row.scored_at.isoformat(timespec="milliseconds") + "Z")
                     .set_activity_progress("Completed" if progress == "FullyGraded"
                                            else "Submitted")
                     .set_grading_progress(progress)
                     .set_user_id(row.subject)
                     .set_extra_claims({CANVAS_SUBMISSION: {
                         "submitted_at": row.submitted_at.isoformat(timespec="seconds")
                         + "Z"}}))
            if row.comment:
                grade.set_comment(row.comment)
            return _Outgoing(score_id=row.id, version=now, link_id=link.id,
                             platform_id=platform.id, issuer=platform.issuer,
                             client_id=platform.client_id, scopes=list(link.ags_scopes),
                             lineitems_url=link.lineitems_url, lineitem_url=link.lineitem_url,
                             resource_link_id=link.resource_link_id,
                             assignment_id=link.assignment_id, grade=grade)

    def _settle(self, out: _Outgoing, error: str | None, *, count: bool = True) -> None:
        with self._sessions.begin() as db:
            row = db.get(LtiScore, out.score_id)
            # queued again while it was in flight: the newer score goes out next round
            if row is None or row.updated_at != out.version:
                return
            now = utcnow()
            if error is None:
                values: dict[str, Any] = dict(status=Status.SENT, sent_at=now,
                                              last_error=None, attempts=row.attempts + 1)
            elif not count:
                values = dict(next_attempt_at=now + backoff(max(row.attempts, 1)))
            else:
                attempts = row.attempts + 1
                values = dict(attempts=attempts, last_error=error,
                              status=Status.FAILED if attempts >= MAX_ATTEMPTS
                              else Status.PENDING,
                              next_attempt_at=now + backoff(attempts))
            db.execute(update(LtiScore).where(LtiScore.id == out.score_id,
                                              LtiScore.updated_at == out.version)
                       .values(updated_at=now, **values))

    def _post(self, out: _Outgoing, this_round: _Round) -> None:
        connector = this_round.connectors.get(out.platform_id)
        if connector is None:
            with self._sessions.begin() as db:
                conf = tool_conf(db, self._key())
            registration = conf.find_registration_by_params(out.issuer, out.client_id)
            connector = ServiceConnector(registration, requests_session=TimedSession())
            this_round.connectors[out.platform_id] = connector
        ags = AssignmentsGradesService(
            connector, {"scope": out.scopes,  # type: ignore[typeddict-item]
                        "lineitems": out.lineitems_url or "",
                        "lineitem": out.lineitem_url or ""})
        if out.lineitem_url:
            ags.put_grade(out.grade)
            return
        # the item has no line item of its own (the LMS made none when it was added):
        # the assignment's, found by its tag or made once, and kept for the next sends
        found = ags.find_or_create_lineitem(
            LineItem().set_tag(line_item_tag(out.assignment_id))
            .set_resource_id(out.assignment_id).set_resource_link_id(out.resource_link_id)
            .set_label(self._titles(out.assignment_id))
            .set_score_maximum(out.grade.get_score_maximum() or 0))
        ags.put_grade(out.grade, found)
        if found.get_id():
            with self._sessions.begin() as db:
                link = db.get(LtiLink, out.link_id)
                if link is not None and not link.lineitem_url:
                    link.lineitem_url = found.get_id()
