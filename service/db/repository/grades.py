"""Manual grades and the audit log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import (
    AuditEvent,
    ManualGrade,
    User,
)


def add_manual_grade(
    session: Session, *, submission_id: str, question_id: str, points: float | None,
    comment: str | None, grader: User,
) -> ManualGrade:
    grade = ManualGrade(submission_id=submission_id, question_id=question_id, points=points,
                        comment=comment, grader_id=grader.id)
    session.add(grade)
    session.flush()
    return grade


def manual_grades(session: Session, *, submission_id: str) -> dict[str, ManualGrade]:
    """The latest manual entry per question."""
    rows = session.scalars(select(ManualGrade).where(ManualGrade.submission_id == submission_id)
                           .order_by(ManualGrade.created_at, ManualGrade.id)).all()
    return {row.question_id: row for row in rows}


def audit(session: Session, *, actor: User, action: str, target: str,
          detail: dict | None = None) -> None:
    session.add(AuditEvent(actor_id=actor.id, action=action, target=target,
                           detail=detail or {}))
