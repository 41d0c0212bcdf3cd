"""Review requests: a student asks staff to look at one question of a graded submission
again; staff answer in a queue, with an override of the points where they agree."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from graders import Visibility
from service.api.deps import (
    DB,
    AssignmentDep,
    CurrentUser,
    Instructor,
    State,
    VisibleSubmission,
    is_staff,
    unit_of_work,
)
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import ReviewRequest, Role, RunStatus
from service.schemas import ERROR_RESPONSES, ReviewAnswer, ReviewIn, ReviewOut

router = APIRouter(tags=["reviews"], responses=ERROR_RESPONSES)


def review_out(request: ReviewRequest) -> ReviewOut:
    return ReviewOut(id=request.id, submission_id=request.submission_id,
                     assignment_id=request.assignment_id, question_id=request.question_id,
                     student=request.student.name, comment=request.comment,
                     status=request.status,  # type: ignore[arg-type]
                     created_at=request.created_at, answer=request.answer,
                     override=request.override,
                     answered_by=request.answerer.name if request.answerer else None,
                     answered_at=request.answered_at)


def _question_points(state: State, assignment_id: str, question_id: str) -> float:
    spec = state.catalog[assignment_id].spec
    try:
        return float(spec.question(question_id).points)
    except KeyError:
        raise HTTPException(404, f"Assignment {spec.id} has no question {question_id!r}.") \
            from None


@router.post("/submissions/{submission_id}/questions/{question_id}/review", status_code=201,
             response_model=ReviewOut)
@unit_of_work
def ask_review(submission: VisibleSubmission, question_id: str, body: ReviewIn,
               user: CurrentUser, db: DB, state: State) -> ReviewOut:
    """Once per question, on a graded submission, while the assignment takes requests."""
    if user.role != Role.STUDENT:
        raise HTTPException(403, "Review requests are filed by the students who handed in.")
    _question_points(state, submission.assignment_id, question_id)
    run = repo.current_run(db, submission_id=submission.id)
    if run is None or run.status != RunStatus.GRADED:
        raise HTTPException(409, "This submission is not graded yet: ask for a review once "
                                 "it is.")
    window = repo.get_policy(db, assignment_id=submission.assignment_id).review_until
    if window is not None and utcnow() > window:
        raise HTTPException(403, f"Review requests for {submission.assignment_id} closed on "
                                 f"{window:%Y-%m-%d %H:%M} UTC.")
    try:
        request = repo.ask_review(db, submission=submission, question_id=question_id,
                                  student=user, comment=body.comment)
    except repo.ReviewConflictError as exc:
        raise HTTPException(409, f"You already asked: {exc}. Staff can reopen it.") from None
    repo.audit(db, actor=user, action="ask_review", target=f"{submission.id}/{question_id}")
    return review_out(request)


@router.get("/submissions/{submission_id}/reviews", response_model=list[ReviewOut])
@unit_of_work
def submission_reviews(submission: VisibleSubmission, user: CurrentUser, db: DB,
                       state: State) -> list[ReviewOut]:
    found = [review_out(r) for r in repo.review_requests(db, submission_id=submission.id)]
    if is_staff(user) or repo.get_policy(db, assignment_id=submission.assignment_id
                                         ).hidden_released:
        return found
    # a hidden question's points stay hidden until release, an override's too
    spec = state.catalog[submission.assignment_id].spec
    hidden = {q.id for q in spec.questions if q.visibility is Visibility.HIDDEN}
    return [r.model_copy(update={"override": None}) if r.question_id in hidden else r
            for r in found]


@router.get("/assignments/{assignment_id}/reviews", response_model=list[ReviewOut])
@unit_of_work
def review_queue(assignment: AssignmentDep, user: Instructor, db: DB,
                 status: Annotated[Literal["open", "answered", "reopened"] | None,
                                   Query()] = None) -> list[ReviewOut]:
    """The staff's queue, oldest first (``status=open``: those waiting for an answer)."""
    return [review_out(r) for r in repo.review_requests(db, assignment_id=assignment.id,
                                                        status=status)]


def _request(db: DB, request_id: str) -> ReviewRequest:
    found = repo.review_request(db, request_id=request_id)
    if found is None:
        raise HTTPException(404, "There is no such review request.")
    return found


@router.post("/reviews/{request_id}/answer", response_model=ReviewOut)
@unit_of_work
def answer_review(request_id: str, body: ReviewAnswer, user: Instructor, db: DB,
                  state: State) -> ReviewOut:
    request = _request(db, request_id)
    worth = _question_points(state, request.assignment_id, request.question_id)
    if body.override is not None:
        if body.override > worth:
            raise HTTPException(422, f"Question {request.question_id} is worth at most "
                                     f"{worth:g} points.")
        repo.add_manual_grade(db, submission_id=request.submission_id,
                              question_id=request.question_id, points=body.override,
                              comment=f"After your review request: {body.answer}", grader=user)
    repo.answer_review(db, request=request, answer=body.answer, override=body.override,
                       by=user)
    repo.audit(db, actor=user, action="answer_review", target=request.id,
               detail=body.model_dump())
    return review_out(request)


@router.post("/reviews/{request_id}/reopen", response_model=ReviewOut)
@unit_of_work
def reopen_review(request_id: str, user: Instructor, db: DB) -> ReviewOut:
    """Let the student file this question's request again (a second round)."""
    request = repo.reopen_review(db, request=_request(db, request_id))
    repo.audit(db, actor=user, action="reopen_review", target=request.id)
    return review_out(request)
