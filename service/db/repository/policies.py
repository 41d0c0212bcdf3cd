"""Per-assignment settings staff change at run time (deadline, late policy, limits)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.models import (
    AssignmentPolicy,
)

T = TypeVar("T")



def get_policy(session: Session, *, assignment_id: str) -> AssignmentPolicy:
    return _get_or_add(session, AssignmentPolicy(assignment_id=assignment_id),
                       AssignmentPolicy, assignment_id)


def _get_or_add(session: Session, row: T, model: type[T], key: str) -> T:
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
