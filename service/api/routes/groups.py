"""Groups of students handing in together, per assignment (staff manage them)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from service.api.deps import DB, AssignmentDep, Instructor, unit_of_work
from service.db import repository as repo
from service.db.models import Role, StudentGroup
from service.schemas import ERROR_RESPONSES, GroupIn, GroupOut

router = APIRouter(tags=["groups"], responses=ERROR_RESPONSES)


def _out(group: StudentGroup) -> GroupOut:
    return GroupOut(assignment_id=group.assignment_id, name=group.name,
                    members=sorted(m.user.name for m in group.members))


@router.get("/assignments/{assignment_id}/groups", response_model=list[GroupOut])
@unit_of_work
def list_groups(assignment: AssignmentDep, user: Instructor, db: DB) -> list[GroupOut]:
    return [_out(g) for g in repo.list_groups(db, assignment_id=assignment.id)]


@router.put("/assignments/{assignment_id}/groups/{name}", response_model=GroupOut)
@unit_of_work
def set_group(assignment: AssignmentDep, name: str, body: GroupIn, user: Instructor,
              db: DB) -> GroupOut:
    """Create the group or replace its members (their earlier group hand-ins stay the
    group's)."""
    if not name.strip() or len(name) > 200:
        raise HTTPException(422, "A group needs a name of 1 to 200 characters.")
    members = []
    for member in dict.fromkeys(body.members):
        found = repo.user_by_name(db, name=member)
        if found is None:
            raise HTTPException(422, f"There is no user named {member!r}.")
        if found.role != Role.STUDENT:
            raise HTTPException(422, f"{member} is not a student.")
        members.append(found)
    try:
        group = repo.set_group(db, assignment_id=assignment.id, name=name, members=members)
    except repo.GroupConflictError as exc:
        raise HTTPException(409, f"{exc}; remove them from it first.") from None
    repo.audit(db, actor=user, action="set_group", target=f"{assignment.id}/{name}",
               detail={"members": [m.name for m in members]})
    return _out(group)


@router.delete("/assignments/{assignment_id}/groups/{name}", status_code=204)
@unit_of_work
def delete_group(assignment: AssignmentDep, name: str, user: Instructor, db: DB) -> Response:
    group = repo.get_group(db, assignment_id=assignment.id, name=name)
    if group is None:
        raise HTTPException(404, f"Assignment {assignment.id} has no group {name!r}.")
    repo.delete_group(db, group=group)
    repo.audit(db, actor=user, action="delete_group", target=f"{assignment.id}/{name}")
    return Response(status_code=204)
