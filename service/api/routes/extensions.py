"""Per-student deadlines: staff grant extensions and accommodations (with a reason, kept
in the audit log); a student sees their own."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from service.api.deps import DB, AssignmentDep, CurrentUser, Instructor, unit_of_work
from service.db import repository as repo
from service.db.models import Extension, Role, User
from service.schemas import ERROR_RESPONSES, ExtensionIn, ExtensionOut

router = APIRouter(tags=["extensions"], responses=ERROR_RESPONSES)


def extension_out(extension: Extension) -> ExtensionOut:
    return ExtensionOut(assignment_id=extension.assignment_id, student=extension.user.name,
                        deadline=extension.deadline,
                        waive_late_policy=extension.waive_late_policy,
                        reason=extension.reason, granted_by=extension.granter.name,
                        granted_at=extension.granted_at)


def _student(db: DB, name: str) -> User:
    found = repo.user_by_name(db, name=name)
    if found is None:
        raise HTTPException(404, f"There is no user named {name!r}.")
    if found.role != Role.STUDENT:
        raise HTTPException(422, f"{name} is not a student: extensions are for students.")
    return found


@router.get("/assignments/{assignment_id}/extensions", response_model=list[ExtensionOut])
@unit_of_work
def list_extensions(assignment: AssignmentDep, user: CurrentUser,
                    db: DB) -> list[ExtensionOut]:
    """Staff see every extension of the assignment; a student, their own (or none)."""
    if user.role == Role.STUDENT:
        own = repo.extension_of(db, assignment_id=assignment.id, user_id=user.id)
        return [extension_out(own)] if own is not None else []
    return [extension_out(e) for e in repo.list_extensions(db, assignment_id=assignment.id)]


@router.put("/assignments/{assignment_id}/extensions/{student}", response_model=ExtensionOut)
@unit_of_work
def grant_extension(assignment: AssignmentDep, student: str, body: ExtensionIn,
                    user: Instructor, db: DB) -> ExtensionOut:
    """Give the student their own deadline (replacing an earlier extension); with
    ``waive_late_policy`` their later uploads are accepted without a late penalty."""
    who = _student(db, student)
    extension = repo.set_extension(db, assignment_id=assignment.id, user=who,
                                   deadline=body.deadline,
                                   waive_late_policy=body.waive_late_policy,
                                   reason=body.reason, granted_by=user)
    repo.audit(db, actor=user, action="extension", target=f"{assignment.id}/{who.name}",
               detail=body.model_dump(mode="json"))
    return extension_out(extension)


@router.delete("/assignments/{assignment_id}/extensions/{student}", status_code=204)
@unit_of_work
def withdraw_extension(assignment: AssignmentDep, student: str, user: Instructor,
                       db: DB) -> Response:
    who = _student(db, student)
    found = repo.extension_of(db, assignment_id=assignment.id, user_id=who.id)
    if found is None:
        raise HTTPException(404, f"{who.name} has no extension for {assignment.id}.")
    repo.delete_extension(db, extension=found)
    repo.audit(db, actor=user, action="withdraw_extension",
               target=f"{assignment.id}/{who.name}")
    return Response(status_code=204)
