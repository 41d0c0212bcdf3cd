"""The gradebook: every student of the course by every question of one assignment.

One function builds it from the database; the dashboard's grid, the class overview and
the CSV export all read it, so they cannot disagree. A student who never handed in is a
row too (marked ``not_submitted``): staff look for them first.
"""

from __future__ import annotations

import math
import statistics
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders import GradeReport, LoadedAssignment, Outcome, report_from_json
from service.db import repository as repo
from service.db.models import AssignmentPolicy, LatePolicy, Role, RunStatus, Submission, User
from service.schemas import UtcTime
from service.views import with_manual_grades

Counted = Literal["latest", "best"]


class RowStatus(StrEnum):
    GRADED = "graded"
    WAITING = "waiting"  # queued or running
    FAILED = "failed"  # the run could not grade it (infrastructure): staff must act
    NOT_SUBMITTED = "not_submitted"


class Cell(BaseModel):
    points: float | None  # None: not graded yet (by hand, or waiting for data)
    max_points: float
    outcome: Outcome


class Row(BaseModel):
    student: str
    group: str | None = None
    status: RowStatus
    submission_id: str | None = None
    submitted_at: UtcTime | None = None
    late_days: int = 0
    extended_to: UtcTime | None = None  # the student's own deadline, if staff granted one
    cells: dict[str, Cell] = {}
    score: float | None = None  # the points graded so far, before any late penalty
    total: float | None = None  # after the late penalty
    pending: float = 0.0  # points still to be graded (by hand or waiting)


class QuestionColumn(BaseModel):
    id: str
    title: str
    max_points: float
    manual: bool
    mean: float | None = None
    stdev: float | None = None
    graded: int = 0


class Gradebook(BaseModel):
    assignment_id: str
    max_points: float
    counted: Counted
    questions: list[QuestionColumn]
    rows: list[Row]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in RowStatus}
        for row in self.rows:
            out[row.status.value] += 1
        return out


def late_total(score: float, late_days: int, policy: AssignmentPolicy) -> float:
    if policy.late_policy == LatePolicy.PENALTY and late_days:
        score *= max(0.0, 1.0 - policy.penalty_per_day * late_days)
    return round(score, 4)


def _status(run_status: RunStatus | None) -> RowStatus:
    if run_status is RunStatus.GRADED:
        return RowStatus.GRADED
    if run_status is RunStatus.FAILED:
        return RowStatus.FAILED
    return RowStatus.WAITING


def build(db: Session, assignment: LoadedAssignment, counted: Counted = "latest") -> Gradebook:
    """One row per student (every enrolled student, and anyone else who handed in): the
    submission that counts for them (their latest, or their best-scoring graded one),
    a group's hand-in counting for each member."""
    policy = repo.get_policy(db, assignment_id=assignment.id)
    spec = assignment.spec
    chosen: dict[str, tuple[User, Submission, RunStatus | None, GradeReport | None]] = {}
    rows_, _ = repo.list_submissions(db, assignment_id=assignment.id, limit=1_000_000)
    for sub in rows_:
        run = repo.current_run(db, submission_id=sub.id)
        status = RunStatus(run.status) if run is not None else None
        report = None
        if run is not None and status is RunStatus.GRADED and run.report_json:
            report = with_manual_grades(report_from_json(run.report_json),
                                        repo.manual_grades(db, submission_id=sub.id))
        for member in repo.owners(sub):
            held = chosen.get(member.id)
            if held is None or _better(counted, (sub, report), (held[1], held[3]), policy):
                chosen[member.id] = (member, sub, status, report)
    students = db.scalars(select(User).where(User.role == Role.STUDENT)).all()
    rows = [_row(user, *rest[1:], policy, _late_days(db, policy, user, rest[1]))
            if (rest := chosen.get(user.id)) else
            Row(student=user.name, status=RowStatus.NOT_SUBMITTED)
            for user in students]
    rows += [_row(user, sub, status, report, policy, _late_days(db, policy, user, sub))
             for user_id, (user, sub, status, report) in chosen.items()
             if user.role != Role.STUDENT]
    extended = {e.user.name: e.deadline
                for e in repo.list_extensions(db, assignment_id=assignment.id)}
    rows = [r.model_copy(update={"extended_to": extended.get(r.student)}) for r in rows]
    rows.sort(key=lambda r: r.student)
    return Gradebook(assignment_id=assignment.id,
                     max_points=float(spec.autograded_points + spec.manual_points),
                     counted=counted, questions=_columns(assignment, rows), rows=rows)


def _better(counted: Counted, new: tuple[Submission, GradeReport | None],
            held: tuple[Submission, GradeReport | None], policy: AssignmentPolicy) -> bool:
    # a graded hand-in beats one that is not (a resubmission still queued, or one whose
    # run failed, does not take a student's grade away from the export)
    if (new[1] is None) != (held[1] is None):
        return held[1] is None
    if counted == "latest" or new[1] is None or held[1] is None:
        return new[0].created_at > held[0].created_at
    return late_total(new[1].score, new[0].late_days, policy) > \
        late_total(held[1].score, held[0].late_days, policy)


def _late_days(db: Session, policy: AssignmentPolicy, user: User, sub: Submission) -> int:
    """The days late counted against the student's own deadline: an extension granted
    after the upload (an accommodation confirmed later) counts as one granted before."""
    due = repo.deadline_for(db, policy=policy, user_id=user.id, group_id=sub.group_id)
    if not due.extended or not sub.late_days:
        return sub.late_days
    if due.waive_late_policy or due.at is None or sub.created_at <= due.at:
        return 0
    return min(sub.late_days, math.ceil((sub.created_at - due.at) / timedelta(days=1)))


def _row(user: User, sub: Submission, status: RunStatus | None, report: GradeReport | None,
         policy: AssignmentPolicy, late_days: int) -> Row:
    row = Row(student=user.name, group=sub.group.name if sub.group else None,
              status=_status(status), submission_id=sub.id, submitted_at=sub.created_at,
              late_days=late_days)
    if report is None:
        return row
    cells = {q.id: Cell(points=None if q.outcome in (Outcome.MANUAL, Outcome.UNGRADED)
                        else q.points, max_points=q.max_points, outcome=q.outcome)
             for q in report.questions}
    return row.model_copy(update={
        "cells": cells, "score": report.score,
        "total": late_total(report.score, late_days, policy),
        "pending": sum(q.pending_points for q in report.questions)})


def _columns(assignment: LoadedAssignment, rows: list[Row]) -> list[QuestionColumn]:
    out = []
    # a group's hand-in counts once, not once per member
    once = list({r.submission_id: r for r in rows if r.submission_id}.values())
    for q in assignment.spec.questions:
        got = [c.points for r in once if (c := r.cells.get(q.id)) is not None
               and c.points is not None]
        out.append(QuestionColumn(
            id=q.id, title=q.title, max_points=q.points, manual=q.manual, graded=len(got),
            mean=round(statistics.fmean(got), 4) if got else None,
            stdev=round(statistics.pstdev(got), 4) if len(got) > 1 else None))
    return out
