"""Accounts and their API tokens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import hash_token, new_token
from service.db.models import (
    Role,
    User,
)


def create_user(session: Session, *, name: str, role: Role) -> tuple[User, str]:
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def user_by_token(session: Session, *, token: str) -> User | None:
    return session.scalar(select(User).where(User.token_hash == hash_token(token)))


def user_by_name(session: Session, *, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))
