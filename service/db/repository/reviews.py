"""Students' review requests (one per submission and question) and staff's answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import ReviewRequest, Submission, User


class ReviewConflictError(Exception):
    """The question already has a request that is open or answered (not reopened)."""


def review_requests(session: Session, *, submission_id: str | None = None,
                    assignment_id: str | None = None,
                    status: str | None = None) -> list[ReviewRequest]:
    query = select(ReviewRequest).order_by(ReviewRequest.created_at)
    if submission_id is not None:
        query = query.where(ReviewRequest.submission_id == submission_id)
    if assignment_id is not None:
        query = query.where(ReviewRequest.assignment_id == assignment_id)
    if status is not None:
        query = query.where(ReviewRequest.status == status)
    return list(session.scalars(query))


def review_request(session: Session, *, request_id: str) -> ReviewRequest | None:
    return session.get(ReviewRequest, request_id)


def ask_review(session: Session, *, submission: Submission, question_id: str, student: User,
               comment: str) -> ReviewRequest:
    """File the request, or file it again where staff reopened it."""
    found = session.scalar(select(ReviewRequest).where(
        ReviewRequest.submission_id == submission.id,
        ReviewRequest.question_id == question_id))
    if found is not None and found.status != "reopened":
        raise ReviewConflictError(f"a review of question {question_id} was already "
                                  f"requested ({found.status})")
    if found is None:
        found = ReviewRequest(submission_id=submission.id,
                              assignment_id=submission.assignment_id,
                              question_id=question_id)
        session.add(found)
    found.student_id, found.comment, found.status = student.id, comment, "open"
    found.created_at = utcnow()
    found.answer = found.override = found.answered_by = found.answered_at = None
    session.flush()
    return found


def answer_review(session: Session, *, request: ReviewRequest, answer: str,
                  override: float | None, by: User) -> ReviewRequest:
    request.answer, request.override, request.status = answer, override, "answered"
    request.answered_by, request.answered_at = by.id, utcnow()
    session.flush()
    return request


def reopen_review(session: Session, *, request: ReviewRequest) -> ReviewRequest:
    request.status = "reopened"
    session.flush()
    return request
