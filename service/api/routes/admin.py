"""The roster: user accounts, their roles and their API tokens.

Staff enrol students (one by one or from a CSV), reset and revoke their tokens;
administrators also create staff and change roles. Every change is audit-logged. A
token is shown once, in the answer that made it, and stored only as its hash.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from service.api.deps import DB, Admin, Instructor, unit_of_work
from service.db import repository as repo
from service.db.models import Role, User
from service.schemas import (
    ERROR_RESPONSES,
    UserCreate,
    UserCreated,
    UtcTime,
    account_name_problem,
)

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


class UserOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: UtcTime
    active: bool  # False once its token was revoked (until a new one is issued)


class RosterImport(BaseModel):
    # "name,role" per line (a header line is allowed; the role defaults to student)
    csv: str = Field(max_length=1_000_000)


class RosterImported(BaseModel):
    created: list[UserCreated]
    existing: list[str]


class RoleChange(BaseModel):
    role: Role


def _out(user: User) -> UserOut:
    return UserOut(id=user.id, name=user.name, role=user.role, created_at=user.created_at,
                   active=repo.token_active(user))


def _may_manage(actor: User, role: Role) -> None:
    if role != Role.STUDENT and actor.role != Role.ADMIN:
        raise HTTPException(403, "Only administrators can manage staff accounts.")


@router.get("/users", response_model=list[UserOut])
@unit_of_work
def list_users(user: Instructor, db: DB) -> list[UserOut]:
    return [_out(u) for u in repo.list_users(db)]


@router.post("/users", status_code=201, response_model=UserCreated)
@unit_of_work
def create_user(body: UserCreate, user: Instructor, db: DB) -> UserCreated:
    _may_manage(user, body.role)
    if repo.user_by_name(db, name=body.name) is not None:
        raise HTTPException(409, f"A user named {body.name!r} already exists.")
    created, token = repo.create_user(db, name=body.name, role=body.role)
    repo.audit(db, actor=user, action="create_user", target=created.id,
               detail={"role": body.role.value})
    return UserCreated(id=created.id, name=created.name, role=created.role, token=token)


@router.post("/users/import", status_code=201, response_model=RosterImported)
@unit_of_work
def import_roster(body: RosterImport, user: Instructor, db: DB) -> RosterImported:
    """Enrol everyone listed who is not enrolled yet. A file with any bad line enrols
    no one and says which lines are wrong."""
    wanted: list[tuple[str, Role]] = []
    problems: list[str] = []
    try:
        rows = list(csv.reader(io.StringIO(body.csv, newline="")))
    except csv.Error as exc:
        raise HTTPException(422, f"Nobody was enrolled: this is not a CSV file ({exc}).") \
            from None
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        name = cells[0]
        role_text = (cells[1] if len(cells) > 1 and cells[1] else "student").lower()
        if number == 1 and name.lower() in ("name", "student", "user", "username"):
            continue  # a header
        try:
            role = Role(role_text)
        except ValueError:
            problems.append(f"line {number}: unknown role {role_text!r} (student, "
                            "instructor or admin)")
            continue
        problem = account_name_problem(name)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        if role is not Role.STUDENT and user.role != Role.ADMIN:
            problems.append(f"line {number}: only administrators can enrol staff ({name})")
            continue
        wanted.append((name, role))
    if problems:
        raise HTTPException(422, "Nobody was enrolled: " + "; ".join(problems[:20]))
    created, existing = [], []
    for name, role in dict(wanted).items():
        if repo.user_by_name(db, name=name) is not None:
            existing.append(name)
            continue
        made, token = repo.create_user(db, name=name, role=role)
        created.append(UserCreated(id=made.id, name=made.name, role=made.role, token=token))
    repo.audit(db, actor=user, action="import_roster", target="users",
               detail={"created": [c.name for c in created], "existing": existing})
    return RosterImported(created=created, existing=existing)


def _target(db: DB, actor: User, user_id: str) -> User:
    target = repo.user_by_id(db, user_id=user_id)
    if target is None:
        raise HTTPException(404, "There is no such user.")
    _may_manage(actor, target.role)
    return target


@router.post("/users/{user_id}/token", response_model=UserCreated)
@unit_of_work
def reset_token(user_id: str, user: Instructor, db: DB) -> UserCreated:
    """A new token; the old one stops working at once."""
    target = _target(db, user, user_id)
    token = repo.reset_token(db, user=target)
    repo.audit(db, actor=user, action="reset_token", target=target.id)
    return UserCreated(id=target.id, name=target.name, role=target.role, token=token)


@router.delete("/users/{user_id}/token", response_model=UserOut)
@unit_of_work
def revoke_token(user_id: str, user: Instructor, db: DB) -> UserOut:
    target = _target(db, user, user_id)
    if target.id == user.id:
        raise HTTPException(409, "You cannot revoke your own token here.")
    repo.revoke_token(db, user=target)
    repo.audit(db, actor=user, action="revoke_token", target=target.id)
    return _out(target)


@router.patch("/users/{user_id}", response_model=UserOut)
@unit_of_work
def change_role(user_id: str, body: RoleChange, user: Admin, db: DB) -> UserOut:
    target = repo.user_by_id(db, user_id=user_id)
    if target is None:
        raise HTTPException(404, "There is no such user.")
    if target.id == user.id and body.role != Role.ADMIN:
        raise HTTPException(409, "You cannot take away your own administrator role.")
    before = target.role
    target.role = body.role
    repo.audit(db, actor=user, action="change_role", target=target.id,
               detail={"from": str(before), "to": body.role.value})
    return _out(target)
