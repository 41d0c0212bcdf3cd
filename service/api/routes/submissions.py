"""Submitting, polling, reading reports and notebooks; staff grading of one submission."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import math
import re
from datetime import datetime, timedelta
from typing import Annotated

import starlette.datastructures
from fastapi import APIRouter, File, Header, HTTPException, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from graders import SubmissionFormatError, load_submission, report_from_json
from service.api.deps import (
    DB,
    AppState,
    Credentials,
    CurrentUser,
    Instructor,
    State,
    VisibleSubmission,
    bearer_token,
    is_staff,
    known_assignment,
    notify_after_commit,
    token_not_valid,
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
from service.db.repository import intake
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


def _read_capped(upload: starlette.datastructures.UploadFile, cap: int) -> bytes:
    data = upload.file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(413, f"The file is larger than the {cap // (1024 * 1024)} MiB "
                                 "limit for this assignment.")
    return data


@router.post("/assignments/{assignment_id}/submissions", status_code=202,
             response_model=SubmissionAccepted)
async def submit(
    assignment_id: Annotated[str, Path()],
    state: State,
    credentials: Credentials,
    response: Response,
    file: Annotated[UploadFile, File(description=".ipynb, .py, or .zip with one notebook")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SubmissionAccepted:
    """Every upload at a deadline comes here. No dependency hops to a thread (FastAPI
    runs each sync one in a hop of its own); the acceptance is one hop to the intake
    threads, and its reads and writes are Core statements (``repository.intake``) on one
    connection."""
    token = bearer_token(credentials)
    accepted = await asyncio.get_running_loop().run_in_executor(state.intake, functools.partial(
        accept_upload, state, assignment_id, token, file, idempotency_key))
    response.headers["Location"] = accepted.status_url
    return accepted


def accept_upload(state: AppState, assignment_id: str, token: str,
                  file: starlette.datastructures.UploadFile,
                  idempotency_key: str | None) -> SubmissionAccepted:
    """The acceptance itself, on an intake thread: the route and its fast path
    (``service.api.fast_intake``) both end here."""
    with state.engine.connect() as conn:
        who = intake.caller(conn, token=token)
        if who is None:
            raise token_not_valid()
        assignment = known_assignment(state, assignment_id)
        if idempotency_key:
            earlier = intake.earlier_upload(conn, user_id=who.id, key=idempotency_key)
            if earlier is not None:
                conn.commit()
                limit = _terms(state, conn, assignment.id, who.id).max_upload_bytes
                conn.commit()
                sha = hashlib.sha256(_read_capped(file, limit)).hexdigest()
                return _retried(state, earlier, sha, assignment.id)
        readiness, reason = state.readiness.status(assignment.id)
        if readiness is Readiness.NOT_READY:
            raise HTTPException(503, f"This assignment cannot be graded right now ({reason})."
                                     " Your course staff have been told; nothing was "
                                     "submitted.")
        filename = clean_filename(file.filename or "")
        if not filename.lower().endswith(ALLOWED):
            raise HTTPException(415, "Upload a Jupyter notebook (.ipynb), a Python file "
                                     "(.py), or a .zip holding one notebook and its helper "
                                     "files.")
        terms = _terms(state, conn, assignment.id, who.id)
        conn.commit()  # the reads end here: no transaction stays open while parsing
        data = _read_capped(file, terms.max_upload_bytes)
        try:
            sha = load_submission(data, filename).sha256
        except SubmissionFormatError as exc:
            reason = str(exc)
            end = "" if reason.endswith((".", "?", "!")) else "."
            raise HTTPException(422, f"Your upload could not be read: {reason}{end}") \
                from None
        now = utcnow()
        late_days = _late_days(terms, now)
        try:
            state.store.put(data, sha)
        except BlobTooLarge:
            raise HTTPException(413, "The file is larger than this service can store.") \
                from None
        try:
            with one_writer(conn):
                _within_hourly_limit(conn, terms, assignment.id, who.id, now)
                recorded = intake.record_upload(
                    conn, assignment_id=assignment.id, user_id=who.id, sha256=sha,
                    size=len(data), filename=filename, idempotency_key=idempotency_key,
                    late_days=late_days, group_id=terms.group_id, at=now)
                conn.commit()
        except IntegrityError:
            # the same Idempotency-Key sent twice at once: the other request stored it
            conn.rollback()
            earlier = intake.earlier_upload(conn, user_id=who.id,
                                            key=idempotency_key) if idempotency_key else None
            if earlier is None:
                raise
            conn.commit()
            return _retried(state, earlier, sha, assignment.id)
    # after the commit: a worker told earlier could look for the run before it exists
    state.dispatcher.notify(recorded.run_id)
    log.info("run %s queued for submission %s", recorded.run_id, recorded.submission_id,
             extra={"run_id": recorded.run_id, "submission_id": recorded.submission_id,
                    "assignment_id": assignment.id})
    return SubmissionAccepted(id=recorded.submission_id, run_id=recorded.run_id,
                              status=RunStatus.QUEUED,
                              status_url=f"/api/v1/submissions/{recorded.submission_id}",
                              late_days=late_days)


def _terms(state: AppState, conn: Connection, assignment_id: str,
           user_id: str) -> intake.UploadTerms:
    terms = intake.upload_terms(conn, assignment_id=assignment_id, user_id=user_id)
    if terms is None:  # the assignment's first upload: its policy row is made once
        with state.sessions.begin() as db:
            repo.get_policy(db, assignment_id=assignment_id)
        terms = intake.upload_terms(conn, assignment_id=assignment_id, user_id=user_id)
        assert terms is not None
    return terms


def _late_days(terms: intake.UploadTerms, now: datetime) -> int:
    due = terms.deadline
    if due.at is None or now <= due.at or due.waive_late_policy:
        return 0
    if terms.late_policy == LatePolicy.REJECT:
        yours = "Your extended deadline" if due.extended else "The deadline"
        raise HTTPException(403, f"{yours} ({due.at:%Y-%m-%d %H:%M} UTC) "
                                 "has passed; late submissions are not accepted.")
    return math.ceil((now - due.at) / timedelta(days=1))


def _within_hourly_limit(conn: Connection, terms: intake.UploadTerms, assignment_id: str,
                         user_id: str, now: datetime) -> None:
    """Counted with the writes, under the writer's lock: two uploads at once cannot both
    take the last slot."""
    if terms.max_per_hour is None:
        return
    recent = intake.uploads_since(conn, assignment_id=assignment_id, user_id=user_id,
                                  group_id=terms.group_id, since=now - timedelta(hours=1))
    if recent >= terms.max_per_hour:
        who = f"Your group {terms.group_name!r} has" if terms.group_name else "You have"
        raise HTTPException(429, f"{who} submitted {recent} times in the last hour; the "
                                 f"limit is {terms.max_per_hour}. Try again later.")


def _retried(state: AppState, earlier: intake.EarlierUpload, sha: str,
             assignment_id: str) -> SubmissionAccepted:
    """The answer to a retry under an Idempotency-Key: the upload it first sent."""
    if earlier.assignment_id != assignment_id:
        raise HTTPException(409, "This Idempotency-Key was already used for another "
                                 "assignment.")
    # the key names one upload: a different file under it is not a retry
    if sha != earlier.blob_sha256:
        raise HTTPException(422, "This Idempotency-Key was already used for a different "
                                 "file. Nothing was submitted: send the new file with a new "
                                 "key.")
    with state.sessions() as db:
        submission = db.get(Submission, earlier.id)
        assert submission is not None
        return _accepted(db, submission)


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
