"""Submitting, polling, reading reports and notebooks; staff grading of one submission."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Header, HTTPException, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from graders import SubmissionFormatError, load_submission, report_from_json
from service.api.deps import (
    DB,
    AssignmentDep,
    CurrentUser,
    Instructor,
    State,
    VisibleSubmission,
    is_staff,
    notify_after_commit,
    unit_of_work,
)
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import (
    GradingRun,
    LatePolicy,
    RunStatus,
    RunTrigger,
    Submission,
    User,
)
from service.db.session import one_writer
from service.readiness import Readiness
from service.schemas import (
    ERROR_RESPONSES,
    ManualGradeIn,
    RunSummary,
    SubmissionAccepted,
    SubmissionPage,
    SubmissionStatus,
)
from service.storage import BlobTooLarge
from service.views import student_view, with_manual_grades

router = APIRouter(tags=["submissions"], responses=ERROR_RESPONSES)
log = logging.getLogger("autograder.api")
MAX_OFFSET = 10**9  # far beyond any table; keeps the database's integers in range
ALLOWED = (".ipynb", ".py", ".zip")


def _read_capped(upload: UploadFile, cap: int) -> bytes:
    data = upload.file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(413, f"The file is larger than the {cap // (1024 * 1024)} MiB "
                                 "limit for this assignment.")
    return data


@router.post("/assignments/{assignment_id}/submissions", status_code=202,
             response_model=SubmissionAccepted)
@unit_of_work
def submit(
    assignment: AssignmentDep,
    user: CurrentUser,
    db: DB,
    state: State,
    response: Response,
    file: Annotated[UploadFile, File(description=".ipynb, .py, or .zip with one notebook")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SubmissionAccepted:
    if idempotency_key:
        existing = repo.find_idempotent(db, user_id=user.id, key=idempotency_key)
        if existing is not None:
            if existing.assignment_id != assignment.id:
                raise HTTPException(409, "This Idempotency-Key was already used for another "
                                         "assignment.")
            # the key names one upload: a different file under it is not a retry
            policy = repo.get_policy(db, assignment_id=assignment.id)
            limit, original = policy.max_upload_bytes, existing.blob_sha256
            db.commit()
            if hashlib.sha256(_read_capped(file, limit)).hexdigest() != original:
                raise HTTPException(422, "This Idempotency-Key was already used for a "
                                         "different file. Nothing was submitted: send the "
                                         "new file with a new key.")
            return _accepted(db, existing)
    readiness, reason = state.readiness.status(assignment.id)
    if readiness is Readiness.NOT_READY:
        raise HTTPException(503, f"This assignment cannot be graded right now ({reason}). "
                                 "Your course staff have been told; nothing was submitted.")
    filename = clean_filename(file.filename or "")
    if not filename.lower().endswith(ALLOWED):
        raise HTTPException(415, "Upload a Jupyter notebook (.ipynb), a Python file (.py), "
                                 "or a .zip holding one notebook and its helper files.")
    policy = repo.get_policy(db, assignment_id=assignment.id)
    max_upload, deadline, late_policy = (policy.max_upload_bytes, policy.deadline,
                                         policy.late_policy)
    max_per_hour = policy.max_per_hour
    group = repo.group_of(db, assignment_id=assignment.id, user_id=user.id)
    group_id, group_name = (group.id, group.name) if group else (None, None)
    # the student's own deadline where staff granted one (or a group member's)
    due = repo.deadline_for(db, policy=policy, user_id=user.id, group_id=group_id)
    deadline = due.at
    db.commit()  # hand the connection back while the upload is read and parsed
    data = _read_capped(file, max_upload)
    try:
        sha = load_submission(data, filename).sha256
    except SubmissionFormatError as exc:
        reason = str(exc)
        end = "" if reason.endswith((".", "?", "!")) else "."
        raise HTTPException(422, f"Your upload could not be read: {reason}{end}") from None
    now = utcnow()
    late_days = 0
    if deadline is not None and now > deadline and not due.waive_late_policy:
        yours = "Your extended deadline" if due.extension is not None else "The deadline"
        if late_policy == LatePolicy.REJECT:
            raise HTTPException(403, f"{yours} ({deadline:%Y-%m-%d %H:%M} UTC) "
                                     "has passed; late submissions are not accepted.")
        late_days = math.ceil((now - deadline) / timedelta(days=1))
    try:
        state.store.put(data, sha)
    except BlobTooLarge:
        raise HTTPException(413, "The file is larger than this service can store.") from None
    db.commit()  # the reads above end here: the writes below are one short transaction
    with one_writer(db):
        if max_per_hour is not None:
            # counted with the writes: two uploads at once cannot both take the last slot
            recent = repo.count_recent(db, user_id=user.id, assignment_id=assignment.id,
                                       since=now - timedelta(hours=1), group_id=group_id)
            if recent >= max_per_hour:
                db.rollback()
                who = f"Your group {group_name!r} has" if group_name else "You have"
                raise HTTPException(429, f"{who} submitted {recent} times in the last "
                                         f"hour; the limit is {max_per_hour}. Try again "
                                         "later.")
        repo.ensure_blob(db, sha256=sha, size=len(data))
        submission, run = repo.create_submission(
            db, assignment_id=assignment.id, user=user, sha256=sha, filename=filename,
            idempotency_key=idempotency_key, late_days=late_days, group_id=group_id)
        submission_id, run_id, run_status = submission.id, run.id, run.status
        db.commit()
    # after the lock: a broker that is slow to take the message holds up no other upload
    state.dispatcher.notify(run_id)
    log.info("run %s queued for submission %s", run_id, submission_id,
             extra={"run_id": run_id, "submission_id": submission_id,
                    "assignment_id": assignment.id})
    response.headers["Location"] = f"/api/v1/submissions/{submission_id}"
    return SubmissionAccepted(id=submission_id, run_id=run_id, status=run_status,
                              status_url=f"/api/v1/submissions/{submission_id}",
                              late_days=late_days)


def clean_filename(name: str) -> str:
    """The name as the student sees it: the last path part (any platform's separator),
    without control characters, at most 200 characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in "\x00")
    return base.strip()[:200]


def _accepted(db: DB, submission: Submission) -> SubmissionAccepted:
    run = repo.current_run(db, submission_id=submission.id)
    assert run is not None
    return SubmissionAccepted(id=submission.id, run_id=run.id, status=run.status,
                              status_url=f"/api/v1/submissions/{submission.id}",
                              late_days=submission.late_days)


def describe(db: DB, state: State, submission: Submission, viewer: User) -> SubmissionStatus:
    run = repo.current_run(db, submission_id=submission.id)
    assert run is not None
    report = None
    score = None
    if run.report_json:
        full = with_manual_grades(report_from_json(run.report_json),
                                  repo.manual_grades(db, submission_id=submission.id))
        score = full.score
        if is_staff(viewer):
            report = full.model_dump(mode="json")
        else:
            policy = repo.get_policy(db, assignment_id=submission.assignment_id)
            report = student_view(full, hidden_released=policy.hidden_released)
            score = report["score"]  # type: ignore[assignment]
    status = SubmissionStatus(
        id=submission.id, assignment_id=submission.assignment_id,
        student=submission.user.name, filename=submission.filename,
        created_at=submission.created_at, late_days=submission.late_days,
        status=run.status, reason=run.reason,
        queue_position=repo.queue_position(db, run=run), score=score, report=report,
        group=submission.group.name if submission.group else None,
        members=[u.name for u in repo.owners(submission)] if submission.group else [],
    )
    if is_staff(viewer):
        status.runs = [_run_summary(r) for r in submission.runs]
    return status


def _run_summary(run: GradingRun) -> RunSummary:
    return RunSummary(id=run.id, trigger=run.trigger, status=run.status, reason=run.reason,
                      score=run.score, attempts=run.attempts, created_at=run.created_at,
                      finished_at=run.finished_at, published=run.published)


@router.get("/submissions/{submission_id}", response_model=SubmissionStatus)
@unit_of_work
def get_submission(submission: VisibleSubmission, user: CurrentUser, db: DB,
                   state: State) -> SubmissionStatus:
    return describe(db, state, submission, user)


@router.get("/submissions/{submission_id}/notebook", responses={200: {
    "description": "the executed notebook, outputs included",
    "content": {"application/x-ipynb+json": {"schema": {"type": "object"}}}}})
@unit_of_work
def get_notebook(submission: VisibleSubmission, db: DB, state: State) -> Response:
    run = repo.current_run(db, submission_id=submission.id)
    if run is None or run.notebook_sha256 is None:
        raise HTTPException(404, "This submission has not been executed yet.")
    sha = run.notebook_sha256
    if not state.store.exists(sha):
        raise HTTPException(404, "The executed notebook is no longer in storage.")
    # streamed chunk by chunk: a large notebook never sits whole in the API's memory
    return StreamingResponse(state.store.chunks(sha), media_type="application/x-ipynb+json",
                             headers={"Content-Disposition":
                                      f'attachment; filename="executed-{submission.id}.ipynb"'})


@router.get("/me/submissions", response_model=SubmissionPage)
@unit_of_work
def my_submissions(user: CurrentUser, db: DB, state: State,
                   assignment: str | None = None,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SubmissionPage:
    rows, total = repo.list_submissions(db, user_id=user.id, assignment_id=assignment,
                                        offset=offset, limit=limit)
    items = [describe(db, state, s, user).model_copy(update={"report": None}) for s in rows]
    return SubmissionPage(items=items, total=total, offset=offset, limit=limit)


@router.get("/submissions", response_model=SubmissionPage)
@unit_of_work
def list_all(user: Instructor, db: DB, state: State,
             assignment: str | None = None, student: str | None = None,
             status: RunStatus | None = None, latest_only: bool = False,
             late: bool | None = None,
             offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> SubmissionPage:
    user_id = None
    if student:
        found = repo.user_by_name(db, name=student)
        if found is None:
            return SubmissionPage(items=[], total=0, offset=offset, limit=limit)
        user_id = found.id
    rows, total = repo.list_submissions(db, assignment_id=assignment, user_id=user_id,
                                        status=status, latest_only=latest_only,
                                        late=late, offset=offset, limit=limit)
    items = [describe(db, state, s, user).model_copy(update={"report": None}) for s in rows]
    return SubmissionPage(items=items, total=total, offset=offset, limit=limit)


@router.patch("/submissions/{submission_id}/questions/{question_id}",
              response_model=SubmissionStatus)
@unit_of_work
def grade_by_hand(submission: VisibleSubmission, question_id: str, body: ManualGradeIn,
                  user: Instructor, db: DB, state: State) -> SubmissionStatus:
    spec = state.catalog[submission.assignment_id].spec
    try:
        question = spec.question(question_id)
    except KeyError:
        raise HTTPException(404, f"Assignment {spec.id} has no question {question_id!r}.") \
            from None
    if body.points is not None and body.points > question.points:
        raise HTTPException(422, f"Question {question_id} is worth at most "
                                 f"{question.points:g} points.")
    repo.add_manual_grade(db, submission_id=submission.id, question_id=question_id,
                          points=body.points, comment=body.comment, grader=user)
    repo.audit(db, actor=user, action="manual_grade", target=f"{submission.id}/{question_id}",
               detail=body.model_dump())
    return describe(db, state, submission, user)


@router.post("/submissions/{submission_id}/regrade", status_code=202,
             response_model=SubmissionAccepted)
@unit_of_work
def regrade_one(submission: VisibleSubmission, user: Instructor, db: DB,
                state: State) -> SubmissionAccepted | JSONResponse:
    run = repo.enqueue_run(db, submission_id=submission.id, trigger=RunTrigger.REGRADE,
                           triggered_by=user.id)
    repo.audit(db, actor=user, action="regrade", target=submission.id)
    notify_after_commit(db, state.dispatcher, run.id)
    return SubmissionAccepted(id=submission.id, run_id=run.id, status=run.status,
                              status_url=f"/api/v1/submissions/{submission.id}",
                              late_days=submission.late_days)
