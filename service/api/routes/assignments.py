"""Assignments: what everyone may read, and the staff's policies, statistics, release,
regrades and gradebook exports."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from graders import (
    Grader,
    GradeReport,
    Outcome,
    SpecError,
    cached_accuracies,
    report_from_json,
    report_to_json,
    to_gradescope,
)
from service import gradebook, leaderboard, lms_files
from service.api.deps import (
    DB,
    AssignmentDep,
    CurrentUser,
    Instructor,
    State,
    is_staff,
    notify_after_commit,
    unit_of_work,
)
from service.api.routes.extensions import extension_out
from service.db import repository as repo
from service.db.models import (
    GradingRun,
    RegradeBatch,
    RunStatus,
    RunTrigger,
    Submission,
    User,
)
from service.gradebook import Gradebook
from service.lti.passback import queue_if_released
from service.schemas import (
    ERROR_RESPONSES,
    AssignmentInfo,
    AssignmentStats,
    ExtensionOut,
    Leaderboard,
    PolicyUpdate,
    QuestionInfo,
    QuestionStats,
    RegradeBatchOut,
    RegradeRequest,
)
from service.views import with_manual_grades

router = APIRouter(tags=["assignments"], responses=ERROR_RESPONSES)


def _info(assignment: AssignmentDep, db: DB) -> AssignmentInfo:
    spec = assignment.spec
    policy = repo.get_policy(db, assignment_id=spec.id)
    return AssignmentInfo(
        id=spec.id, title=spec.title, version=spec.version,
        autograded_points=spec.autograded_points, manual_points=spec.manual_points,
        deadline=policy.deadline, late_policy=policy.late_policy,
        penalty_per_day=policy.penalty_per_day, max_per_hour=policy.max_per_hour,
        max_upload_bytes=policy.max_upload_bytes, cell_timeout_s=spec.cell_timeout_s,
        total_timeout_s=spec.total_timeout_s, hidden_released=policy.hidden_released,
        review_until=policy.review_until, blind_grading=policy.blind_grading,
        leaderboard=policy.leaderboard, leaderboard_questions=policy.leaderboard_questions,
        questions=[QuestionInfo(id=q.id, title=q.title, points=q.points, manual=q.manual,
                                visibility=q.visibility.value) for q in spec.questions],
    )


@router.get("/assignments", response_model=list[AssignmentInfo])
@unit_of_work
def list_assignments(user: CurrentUser, db: DB, state: State) -> list[AssignmentInfo]:
    return [_info(a, db).model_copy(update={"questions": [], "my_extension": _own(db, a.id, user)})
            for a in state.catalog.values()]


def _own(db: DB, assignment_id: str, user: User) -> ExtensionOut | None:
    found = repo.extension_of(db, assignment_id=assignment_id, user_id=user.id)
    return extension_out(found) if found is not None else None


@router.get("/assignments/{assignment_id}", response_model=AssignmentInfo)
@unit_of_work
def get_assignment(assignment: AssignmentDep, user: CurrentUser, db: DB) -> AssignmentInfo:
    return _info(assignment, db).model_copy(
        update={"my_extension": _own(db, assignment.id, user)})


@router.patch("/assignments/{assignment_id}", response_model=AssignmentInfo)
@unit_of_work
def update_policy(assignment: AssignmentDep, body: PolicyUpdate, user: Instructor,
                  db: DB) -> AssignmentInfo:
    policy = repo.get_policy(db, assignment_id=assignment.id)
    if body.leaderboard_questions is not None:
        graded = {q.id for q in assignment.spec.questions if not q.manual}
        unknown = [q for q in body.leaderboard_questions if q not in graded]
        if unknown:
            raise HTTPException(422, f"{assignment.id} has no autograded question "
                                     f"{', '.join(map(repr, unknown))}: a leaderboard lists "
                                     f"autograded questions (those measuring accuracy).")
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(policy, key, value)
    repo.audit(db, actor=user, action="policy", target=assignment.id,
               detail=body.model_dump(mode="json", exclude_unset=True))
    return _info(assignment, db)


@router.get("/assignments/{assignment_id}/leaderboard", response_model=Leaderboard)
@unit_of_work
def get_leaderboard(assignment: AssignmentDep, user: CurrentUser, db: DB,
                    state: State) -> Leaderboard:
    """Staff always see it (to decide whether to open it); students once it is on."""
    policy = repo.get_policy(db, assignment_id=assignment.id)
    if not policy.leaderboard and not is_staff(user):
        raise HTTPException(404, f"{assignment.id} has no leaderboard.")
    board = leaderboard.build(db, assignment, user, data_dir=state.settings.data_dir,
                              enabled=policy.leaderboard, released=policy.hidden_released,
                              only=policy.leaderboard_questions)
    if is_staff(user):
        return board
    return board.model_copy(update={"questions": [q for q in board.questions if q.shown]})


@router.post("/assignments/{assignment_id}/release", response_model=AssignmentInfo)
@unit_of_work
def release_hidden(assignment: AssignmentDep, user: Instructor, db: DB) -> AssignmentInfo:
    repo.get_policy(db, assignment_id=assignment.id).hidden_released = True
    repo.audit(db, actor=user, action="release", target=assignment.id)
    queue_if_released(db, assignment)  # to the grade columns of the LMS items opening it
    return _info(assignment, db)


def _current_reports(db: DB, assignment_id: str) -> list[tuple[Submission, GradeReport]]:
    rows, _ = repo.list_submissions(db, assignment_id=assignment_id, limit=1_000_000)
    found = []
    for submission in rows:
        run = repo.current_run(db, submission_id=submission.id)
        if run is not None and run.status == RunStatus.GRADED and run.report_json:
            report = with_manual_grades(report_from_json(run.report_json),
                                        repo.manual_grades(db, submission_id=submission.id))
            found.append((submission, report))
    return found


@router.get("/assignments/{assignment_id}/statistics", response_model=AssignmentStats)
@unit_of_work
def assignment_statistics(assignment: AssignmentDep, user: Instructor, db: DB,
                          latest_only: bool = True) -> AssignmentStats:
    reports = _current_reports(db, assignment.id)
    if latest_only:
        newest: dict[str, tuple[Submission, GradeReport]] = {}
        for sub, rep in reports:
            owner = sub.group_id or sub.user_id  # a group's hand-in counts once
            if owner not in newest or sub.created_at > newest[owner][0].created_at:
                newest[owner] = (sub, rep)
        reports = list(newest.values())
    questions = []
    for q in assignment.spec.questions:
        results = [next(x for x in rep.questions if x.id == q.id) for _, rep in reports
                   if any(x.id == q.id for x in rep.questions)]
        scored = [r.points for r in results if r.outcome is not Outcome.MANUAL]
        histogram = [0] * 10
        for p in scored:
            histogram[min(9, int(10 * p / q.points)) if q.points else 0] += 1
        feedback = Counter(line for r in results for line in r.feedback)
        questions.append(QuestionStats(
            id=q.id, title=q.title, max_points=q.points, count=len(scored),
            mean=statistics.fmean(scored) if scored else None,
            median=statistics.median(scored) if scored else None,
            histogram=histogram, frequent_feedback=feedback.most_common(5)))
    students = {u.id for s, _ in reports for u in repo.owners(s)}
    return AssignmentStats(assignment_id=assignment.id, submissions=len(reports),
                           students=len(students), questions=questions)


@router.get("/assignments/{assignment_id}/gradebook", response_model=Gradebook)
@unit_of_work
def assignment_gradebook(assignment: AssignmentDep, user: Instructor, db: DB,
                         policy: Annotated[Literal["best", "latest"], Query()] = "latest"
                         ) -> Gradebook:
    """Every student (non-submitters included) by every question: the submission that
    counts for each, its points per question, late days, total and what is still to be
    graded. The CSV export is this table."""
    return gradebook.build(db, assignment, policy)


@router.get("/assignments/{assignment_id}/export", responses={200: {
    "description": "the grades as CSV (format=csv, the default), Gradescope JSON, or "
                   "the CSV Canvas's (format=canvas) or Moodle's (format=moodle) "
                   "gradebook imports",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {
                    "type": "object",
                    "required": ["student", "submission_id", "late_days", "total", "results"],
                    "properties": {
                        "student": {"type": "string"}, "submission_id": {"type": "string"},
                        "late_days": {"type": "integer"}, "total": {"type": "number"},
                        "results": {"type": "object"}}}}}}}})
@unit_of_work
def export(assignment: AssignmentDep, user: Instructor, db: DB,
           format: Literal["csv", "gradescope", "canvas", "moodle"] = "csv",
           policy: Annotated[Literal["best", "latest"], Query()] = "latest") -> Response:
    book = gradebook.build(db, assignment, policy)
    # graded rows only: a student without a graded hand-in has no grade to upload
    rows = [r for r in book.rows if r.status is gradebook.RowStatus.GRADED]
    repo.audit(db, actor=user, action="export", target=assignment.id,
               detail={"format": format, "policy": policy})
    if format == "gradescope":
        import json

        reports = {r.submission_id: _report(db, r.submission_id) for r in rows}
        body = [{"student": r.student, "submission_id": r.submission_id,
                 "late_days": r.late_days, "total": r.total,
                 "results": to_gradescope(reports[r.submission_id]),
                 **({"group": r.group} if r.group else {})}
                for r in rows]
        return Response(json.dumps(body, indent=2), media_type="application/json")
    if format in ("canvas", "moodle"):
        made = (lms_files.canvas_csv if format == "canvas" else lms_files.moodle_csv)(
            book, assignment.spec.title)
        return Response(made, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{assignment.id}-{format}.csv"'})
    out = io.StringIO()
    writer = csv.writer(out)
    qids = [q.id for q in book.questions]
    writer.writerow(["student", "group", "submission_id", "submitted_at", *qids, "score",
                     "total", "late", "late_days", "extended_to"])
    for r in rows:
        points = {qid: "" if c.outcome is Outcome.MANUAL else f"{c.points or 0:g}"
                  for qid, c in r.cells.items()}
        writer.writerow([lms_files.cell_text(r.student), lms_files.cell_text(r.group or ""),
                         r.submission_id,
                         r.submitted_at.isoformat() + "Z" if r.submitted_at else "",
                         *[points.get(q, "") for q in qids], f"{r.score or 0:g}",
                         f"{r.total or 0:g}", "yes" if r.late_days else "no", r.late_days,
                         r.extended_to.isoformat() + "Z" if r.extended_to else ""])
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{assignment.id}-grades.csv"'})


def _report(db: DB, submission_id: str | None) -> GradeReport:
    run = repo.current_run(db, submission_id=submission_id or "")
    assert run is not None and run.report_json
    return with_manual_grades(report_from_json(run.report_json),
                              repo.manual_grades(db, submission_id=submission_id or ""))


@router.post("/assignments/{assignment_id}/regrade", status_code=202,
             response_model=RegradeBatchOut)
@unit_of_work
def regrade_assignment(assignment: AssignmentDep, body: RegradeRequest, user: Instructor,
                       db: DB, state: State) -> RegradeBatchOut:
    if body.question is not None:
        try:
            assignment.spec.question(body.question)
        except KeyError:
            raise HTTPException(404, f"No question {body.question!r} in {assignment.id}.") \
                from None
    batch = RegradeBatch(assignment_id=assignment.id, question_id=body.question,
                         rescore_only=body.rescore_only, created_by=user.id)
    db.add(batch)
    db.flush()
    errors: list[str] = []
    config = state.settings.sandbox_config()
    grader = Grader(assignment, config, state.settings.limits(), state.settings.hidden_dir,
                    cached_accuracies(assignment, config=config,
                                      hidden_dir=state.settings.hidden_dir)
                    if body.rescore_only else {})
    rows, _ = repo.list_submissions(db, assignment_id=assignment.id, limit=1_000_000)
    for submission in rows:
        current = repo.current_run(db, submission_id=submission.id)
        if body.rescore_only:
            if current is None or current.status != RunStatus.GRADED or not current.report_json:
                continue
            try:
                old = report_from_json(current.report_json)
                new = grader.rescore(old)
            except SpecError as exc:
                errors.append(f"{submission.id}: {exc}")
                continue
            if body.question:
                replacement = {q.id: q for q in new.questions}
                new = old.model_copy(update={"questions": [
                    replacement.get(q.id, q) if q.id == body.question else q
                    for q in old.questions]})
            run = GradingRun(submission_id=submission.id, trigger=RunTrigger.RESCORE,
                             triggered_by=user.id, batch_id=batch.id, published=False,
                             status=RunStatus.GRADED, report_json=report_to_json(new),
                             score=new.score, notebook_sha256=current.notebook_sha256,
                             engine_version=new.engine_version,
                             spec_version=assignment.spec.version)
            db.add(run)
        else:
            run = repo.enqueue_run(db, submission_id=submission.id, trigger=RunTrigger.REGRADE,
                                   triggered_by=user.id, batch_id=batch.id,
                                   only_question=body.question, published=False)
            notify_after_commit(db, state.dispatcher, run.id)
    db.flush()
    repo.audit(db, actor=user, action="regrade_batch", target=assignment.id,
               detail=body.model_dump())
    from service.api.routes.regrades import describe_batch

    out = describe_batch(db, batch)
    out.errors = errors
    return out
