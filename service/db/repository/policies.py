"""Per-assignment settings staff change at run time (deadline, late policy, limits)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.db.models import AssignmentPolicy
from service.db.repository.rows import get_or_add


def get_policy(session: Session, *, assignment_id: str) -> AssignmentPolicy:
    return get_or_add(session, AssignmentPolicy(assignment_id=assignment_id),
                      AssignmentPolicy, assignment_id)
