"""Similarity: staff compare an assignment's latest hand-ins with each other (a job in
the background) and look at the most similar pairs side by side."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.api.deps import DB, AssignmentDep, Instructor, State, unit_of_work
from service.db import repository as repo
from service.db.models import SimilarityRun, Submission
from service.schemas import (
    ERROR_RESPONSES,
    SimilarHandIn,
    SimilarityPair,
    SimilarityPairDetail,
    SimilarityRunOut,
    SimilarSide,
)
from service.similarity.compare import line_spans, notebook_code
from service.similarity.job import launch
from service.storage import read_verified

router = APIRouter(tags=["similarity"], responses=ERROR_RESPONSES)
log = logging.getLogger("autograder.similarity")


def _who(submission: Submission) -> str:
    return f"group {submission.group.name}" if submission.group else submission.user.name


def _side(db: DB, submission_id: str, similarity: float) -> tuple[Submission, SimilarHandIn]:
    found = db.get(Submission, submission_id)
    if found is None:  # submissions are never deleted; a run from another database
        raise HTTPException(404, f"Submission {submission_id} is gone.")
    return found, SimilarHandIn(submission_id=found.id, who=_who(found),
                                filename=found.filename, similarity=similarity)


def run_out(db: DB, run: SimilarityRun) -> SimilarityRunOut:
    # the pairs' submissions in one query (with their students and groups), not two
    # lookups per pair; _side then finds them in the session's identity map
    wanted = {p[key] for p in run.pairs for key in ("a", "b")}
    if wanted:
        db.scalars(select(Submission).where(Submission.id.in_(wanted)).options(
            selectinload(Submission.user), selectinload(Submission.group))).all()
    pairs = [SimilarityPair(rank=i + 1, overlap=p["overlap"],
                            a=_side(db, p["a"], p["similarity_a"])[1],
                            b=_side(db, p["b"], p["similarity_b"])[1])
             for i, p in enumerate(run.pairs)]
    return SimilarityRunOut(
        id=run.id, assignment_id=run.assignment_id, status=run.status,  # type: ignore[arg-type]
        requested_by=run.requester.name, created_at=run.created_at,
        finished_at=run.finished_at, submissions=run.submissions, compared=run.compared,
        error=run.error, pairs=pairs)


@router.post("/assignments/{assignment_id}/similarity", status_code=202,
             response_model=SimilarityRunOut)
@unit_of_work
def start_similarity(assignment: AssignmentDep, user: Instructor, db: DB,
                     state: State) -> SimilarityRunOut:
    """Compare every student's (or group's) latest hand-in with every other's, the
    handout's code and the course's support files left out; poll the GET for the result."""
    try:
        run = repo.start_similarity(db, assignment_id=assignment.id, user=user)
    except repo.SimilarityBusyError as exc:
        raise HTTPException(409, f"Not started: {exc}.") from None
    repo.audit(db, actor=user, action="similarity", target=assignment.id)
    out = run_out(db, run)
    db.commit()  # the job looks the run up as soon as it starts
    launch(state.settings, run.id, assignment.path)
    return out


@router.get("/assignments/{assignment_id}/similarity", response_model=SimilarityRunOut)
@unit_of_work
def latest_similarity(assignment: AssignmentDep, user: Instructor, db: DB) -> SimilarityRunOut:
    """The latest comparison of the assignment: its status and, once done, the most
    similar pairs, most similar first."""
    run = repo.latest_similarity(db, assignment_id=assignment.id)
    if run is None:
        raise HTTPException(404, f"No comparison of {assignment.id} has been run yet.")
    return run_out(db, run)


@router.get("/similarity/{run_id}/pairs/{rank}", response_model=SimilarityPairDetail)
@unit_of_work
def similarity_pair(run_id: str, rank: Annotated[int, PathParam(ge=1)], user: Instructor,
                    db: DB, state: State) -> SimilarityPairDetail:
    """One pair's code side by side, with the lines each shares with the other."""
    run = repo.similarity_run(db, run_id=run_id)
    if run is None:
        raise HTTPException(404, "There is no such comparison.")
    if rank > len(run.pairs):
        raise HTTPException(404, f"The comparison has {len(run.pairs)} pairs, not {rank}.")
    pair = run.pairs[rank - 1]
    sides = []
    for key in ("a", "b"):
        found, head = _side(db, pair[key], pair[f"similarity_{key}"])
        try:
            code = notebook_code(read_verified(state.store, found.blob_sha256),
                                 found.filename)
        except Exception:  # the job read it; a blob lost or unreadable since shows empty
            log.exception("similarity %s: submission %s cannot be shown", run_id, found.id)
            code = ""
        regions = [(int(s), int(e)) for s, e in pair[f"regions_{key}"] if e <= len(code)]
        sides.append(SimilarSide(**head.model_dump(), code=code,
                                 lines=line_spans(code, regions)))
    return SimilarityPairDetail(run_id=run.id, rank=rank, overlap=pair["overlap"],
                                a=sides[0], b=sides[1])
