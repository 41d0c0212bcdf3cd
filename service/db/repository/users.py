"""Accounts and their API tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.auth import hash_token, new_token
from service.db.base import utcnow
from service.db.models import (
    Role,
    User,
    WebSession,
)


def create_user(session: Session, *, name: str, role: Role) -> tuple[User, str]:
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def user_by_token(session: Session, *, token: str) -> User | None:
    """The user whose API token, or one of whose unexpired sign-in sessions, it is."""
    digest = hash_token(token)
    user = session.scalar(select(User).where(User.token_hash == digest))
    if user is not None:
        return user
    return session.scalar(select(User).join(WebSession, WebSession.user_id == User.id)
                          .where(WebSession.token_hash == digest,
                                 WebSession.expires_at > utcnow()))


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))


def start_session(session: Session, *, user: User, lifetime: timedelta) -> str:
    """A sign-in token of its own for ``user`` (an LTI launch), ending after ``lifetime``;
    sessions already ended are cleared on the way."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = new_token()
    session.add(WebSession(token_hash=hash_token(token), user_id=user.id, created_at=now,
                           expires_at=now + lifetime))
    session.flush()
    return token


def user_by_name(session: Session, *, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


# a revoked account's stored hash: no token hashes to it (hash_token gives hex digits)
_REVOKED = "!"


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.name)))


def user_by_id(session: Session, *, user_id: str) -> User | None:
    return session.get(User, user_id)


def reset_token(session: Session, *, user: User) -> str:
    token = new_token()
    user.token_hash = hash_token(token)
    session.flush()
    return token


def revoke_token(session: Session, *, user: User) -> None:
    import secrets

    user.token_hash = _REVOKED + secrets.token_hex(31)  # unique, and matches no token
    # signing out everywhere: the LTI launches' sessions end with the token
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()


def token_active(user: User) -> bool:
    return not user.token_hash.startswith(_REVOKED)
