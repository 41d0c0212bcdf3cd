"""Helpers every noun's data functions share."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_or_add(session: Session, row: T, model: type[T], key: str) -> T:
    """The row with this primary key, inserted if absent. Concurrent requests may race
    to insert it (the same notebook uploaded twice at once): the loser reads the
    winner's row."""
    found = session.get(model, key)
    if found is None:
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            pass
        found = session.get(model, key)
        assert found is not None
    return found
