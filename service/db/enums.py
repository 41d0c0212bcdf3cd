"""The database's enumerations, importable without SQLAlchemy (the CLI and the API
schemas use them; a one-shot ``autograder grade`` should not pay for an ORM)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    FAILED = "failed"


class RunTrigger(StrEnum):
    SUBMIT = "submit"
    REGRADE = "regrade"
    RESCORE = "rescore"


class LatePolicy(StrEnum):
    ACCEPT = "accept"
    PENALTY = "penalty"
    REJECT = "reject"


class SimilarityStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class VersionStatus(StrEnum):
    VALIDATING = "validating"
    LIVE = "live"
    REJECTED = "rejected"
    # passed validation, graded once or never, and another version is live now
    AVAILABLE = "available"
