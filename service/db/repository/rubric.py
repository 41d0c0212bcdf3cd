"""Rubric items of manual questions and where they are applied. A question graded with
rubric items scores the sum of the items applied (within 0 and its points); every change
writes that score as a new manual grade, so the history stays."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.db.models import ManualGrade, RubricApplication, RubricItem, User


def rubric_items(session: Session, *, assignment_id: str, question_id: str) -> list[RubricItem]:
    return list(session.scalars(
        select(RubricItem).where(RubricItem.assignment_id == assignment_id,
                                 RubricItem.question_id == question_id)
        .order_by(RubricItem.position, RubricItem.created_at)))


def add_rubric_item(session: Session, *, assignment_id: str, question_id: str, points: float,
                    comment: str, author: User) -> RubricItem:
    count = len(rubric_items(session, assignment_id=assignment_id, question_id=question_id))
    item = RubricItem(assignment_id=assignment_id, question_id=question_id, points=points,
                      comment=comment, position=count, created_by=author.id)
    session.add(item)
    session.flush()
    return item


def rubric_item(session: Session, *, item_id: str) -> RubricItem | None:
    return session.get(RubricItem, item_id)


def applied(session: Session, *, item_ids: list[str]) -> dict[str, set[str]]:
    """submission id -> the ids of the items applied to it (among ``item_ids``)."""
    out: dict[str, set[str]] = {}
    if not item_ids:
        return out
    for row in session.scalars(select(RubricApplication)
                               .where(RubricApplication.item_id.in_(item_ids))):
        out.setdefault(row.submission_id, set()).add(row.item_id)
    return out


def set_applied(session: Session, *, item: RubricItem, submission_id: str, on: bool,
                grader: User) -> None:
    exists = session.get(RubricApplication, (item.id, submission_id))
    if on and exists is None:
        session.add(RubricApplication(item_id=item.id, submission_id=submission_id,
                                      applied_by=grader.id))
    elif not on and exists is not None:
        session.execute(delete(RubricApplication).where(
            RubricApplication.item_id == item.id,
            RubricApplication.submission_id == submission_id))
    session.flush()


def rescore_with_rubric(session: Session, *, assignment_id: str, question_id: str,
                        submission_id: str, max_points: float, grader: User) -> ManualGrade:
    """The manual grade the applied items give, written as the question's latest."""
    items = rubric_items(session, assignment_id=assignment_id, question_id=question_id)
    on = applied(session, item_ids=[i.id for i in items]).get(submission_id, set())
    chosen = [i for i in items if i.id in on]
    points = None if not chosen else min(max_points, max(0.0, sum(i.points for i in chosen)))
    comment = "; ".join(f"{i.comment} ({i.points:+g})" for i in chosen) or None
    grade = ManualGrade(submission_id=submission_id, question_id=question_id, points=points,
                        comment=comment, grader_id=grader.id)
    session.add(grade)
    session.flush()
    return grade
