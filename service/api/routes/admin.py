"""Administration: user accounts."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from service.api.deps import DB, Admin, unit_of_work
from service.db import repository as repo
from service.schemas import ERROR_RESPONSES, UserCreate, UserCreated

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


@router.post("/users", status_code=201, response_model=UserCreated)
@unit_of_work
def create_user(body: UserCreate, user: Admin, db: DB) -> UserCreated:
    if repo.user_by_name(db, name=body.name) is not None:
        raise HTTPException(409, f"A user named {body.name!r} already exists.")
    created, token = repo.create_user(db, name=body.name, role=body.role)
    repo.audit(db, actor=user, action="create_user", target=created.id,
               detail={"role": body.role.value})
    return UserCreated(id=created.id, name=created.name, role=created.role, token=token)
