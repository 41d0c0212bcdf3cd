"""Publishing assignments without a restart: staff upload an assignment folder as a zip;
a job validates it in the sandbox (the reference earns every autograded point, a blank
notebook none) and makes it live; every version is kept and any valid one can be made
live again (a regrade then shows what changes)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi import Path as PathParam
from sqlalchemy.exc import IntegrityError

from service.api.deps import DB, Instructor, State, unit_of_work
from service.db import repository as repo
from service.db.models import AssignmentVersion, Role, User
from service.publish.bundle import ASSIGNMENT_ID, MAX_BUNDLE_BYTES, BundleError, read_bundle
from service.publish.job import launch
from service.schemas import ERROR_RESPONSES, AssignmentVersionOut
from service.storage import BlobTooLarge

router = APIRouter(tags=["versions"], responses=ERROR_RESPONSES)

AssignmentId = Annotated[str, PathParam(pattern=ASSIGNMENT_ID.pattern, max_length=100)]


def _may_publish(state: State, user: User) -> None:
    if state.settings.publish_by == "admin" and user.role != Role.ADMIN:
        raise HTTPException(403, "Only administrators publish assignments on this service "
                                 "(AUTOGRADER_PUBLISH_BY=instructor lets instructors).")


def version_out(version: AssignmentVersion) -> AssignmentVersionOut:
    return AssignmentVersionOut(
        assignment_id=version.assignment_id, number=version.number,
        status=version.status,  # type: ignore[arg-type]
        spec_version=version.spec_version, title=version.title, problems=version.problems,
        reference_points=version.reference_points, blank_points=version.blank_points,
        autograded_points=version.autograded_points, uploaded_by=version.uploader.name,
        created_at=version.created_at, validated_at=version.validated_at,
        live_since=version.live_since)


def _versions(db: DB, state: State, assignment_id: str) -> list[AssignmentVersionOut]:
    uploaded = [version_out(v) for v in repo.list_versions(db, assignment_id=assignment_id)]
    bundled = state.catalog.bundled.get(assignment_id)
    if bundled is not None:
        live = not any(v.status == "live" for v in uploaded)
        uploaded.insert(0, AssignmentVersionOut(
            assignment_id=assignment_id, number=0, status="live" if live else "available",
            spec_version=bundled.spec.version, title=bundled.spec.title,
            autograded_points=float(bundled.spec.autograded_points)))
    return uploaded


@router.get("/assignments/{assignment_id}/versions", response_model=list[AssignmentVersionOut])
@unit_of_work
def list_versions(assignment_id: AssignmentId, user: Instructor, db: DB,
                  state: State) -> list[AssignmentVersionOut]:
    """Every version, oldest first: the bundled folder as version 0 (if there is one),
    then the uploads, each with its validation's findings."""
    found = _versions(db, state, assignment_id)
    # whoever watches a validation finish opens the assignment next: load it now
    if any(version.status == "live" for version in found):
        state.catalog.find(assignment_id)
    if not found:
        raise HTTPException(404, f"There is no assignment {assignment_id!r} and no version "
                                 "of it has been uploaded.")
    return found


@router.post("/assignments/{assignment_id}/versions", status_code=202,
             response_model=AssignmentVersionOut)
@unit_of_work
def upload_version(assignment_id: AssignmentId, user: Instructor, db: DB, state: State,
                   file: Annotated[UploadFile, File(
                       description="the assignment's folder as a zip: spec.py, solution.py, "
                                   "the reference notebook, support/ and handout/")],
                   ) -> AssignmentVersionOut:
    """A new version (or a new assignment): checked now as a zip, then validated in the
    sandbox in the background; the live version stays live unless it passes."""
    _may_publish(state, user)
    db.commit()  # no connection held while the upload is read
    data = file.file.read(MAX_BUNDLE_BYTES + 1)
    try:
        read_bundle(data)
    except BundleError as exc:
        raise HTTPException(422, f"This upload is not an assignment folder: {exc}.") from None
    sha = hashlib.sha256(data).hexdigest()
    try:
        state.store.put(data, sha)
    except BlobTooLarge:
        raise HTTPException(413, "The zip is larger than this service can store.") from None
    repo.ensure_blob(db, sha256=sha, size=len(data))
    try:
        version = repo.add_version(db, assignment_id=assignment_id, sha256=sha, user=user)
    except repo.VersionBusyError as exc:
        raise HTTPException(409, f"Not taken: {exc}; wait for its result.") from None
    except IntegrityError:  # another upload took the same number a moment ago
        raise HTTPException(409, "Not taken: another version of this assignment was "
                                 "uploaded at the same moment; wait for its result.") from None
    repo.audit(db, actor=user, action="upload_version",
               target=f"{assignment_id}/{version.number}", detail={"sha256": sha})
    out = version_out(version)
    db.commit()  # the job reads the row as soon as it starts
    bundled = state.catalog.bundled.get(assignment_id)
    launch(state.settings, version.id,
           taken=(bundled.spec.version,) if bundled is not None else ())
    return out


@router.post("/assignments/{assignment_id}/versions/{number}/live",
             response_model=AssignmentVersionOut)
@unit_of_work
def make_live(assignment_id: AssignmentId, number: Annotated[int, PathParam(ge=0)],
              user: Instructor, db: DB, state: State) -> AssignmentVersionOut:
    """Grade with this version from now on (0: the bundled folder). Earlier gradings keep
    the version that made them; a regrade of the assignment shows what would change."""
    _may_publish(state, user)
    if number == 0:
        if assignment_id not in state.catalog.bundled:
            raise HTTPException(404, f"{assignment_id} has no bundled version.")
        repo.make_live(db, assignment_id=assignment_id, version=None)
    else:
        version = repo.get_version(db, assignment_id=assignment_id, number=number)
        if version is None:
            raise HTTPException(404, f"{assignment_id} has no version {number}.")
        try:
            repo.make_live(db, assignment_id=assignment_id, version=version)
        except repo.VersionStateError as exc:
            raise HTTPException(409, f"Not live: {exc}.") from None
    repo.audit(db, actor=user, action="make_live", target=f"{assignment_id}/{number}")
    db.flush()
    chosen = next(v for v in _versions(db, state, assignment_id) if v.number == number)
    db.commit()
    state.catalog.refresh()
    return chosen
