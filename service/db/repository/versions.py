"""Assignment versions staff upload: numbered per assignment, validated by a job whose
heartbeat says it is alive, at most one live per assignment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import AssignmentVersion, User, VersionStatus

# the validation job beats every few seconds while it grades the reference
STALE_AFTER = timedelta(minutes=3)


class VersionBusyError(Exception):
    """A version of the assignment is being validated."""


class VersionStateError(Exception):
    """The version cannot go live (it failed validation, or is being validated)."""


def _settle(version: AssignmentVersion) -> AssignmentVersion:
    if version.status == VersionStatus.VALIDATING and \
            utcnow() - version.updated_at > STALE_AFTER:
        version.status = VersionStatus.REJECTED
        version.problems = [*version.problems, "the validation stopped without finishing "
                            "(the service restarted or the job was killed); upload it again"]
        version.validated_at = utcnow()
    return version


def list_versions(session: Session, *, assignment_id: str) -> list[AssignmentVersion]:
    return [_settle(v) for v in session.scalars(
        select(AssignmentVersion).where(AssignmentVersion.assignment_id == assignment_id)
        .order_by(AssignmentVersion.number))]


def get_version(session: Session, *, assignment_id: str,
                number: int) -> AssignmentVersion | None:
    found = session.scalar(select(AssignmentVersion).where(
        AssignmentVersion.assignment_id == assignment_id, AssignmentVersion.number == number))
    return _settle(found) if found is not None else None


def live_versions(session: Session) -> list[AssignmentVersion]:
    return list(session.scalars(select(AssignmentVersion).where(
        AssignmentVersion.status == VersionStatus.LIVE)))


def live_version(session: Session, assignment_id: str) -> AssignmentVersion | None:
    """The version of one assignment made live last, if any."""
    return session.scalars(select(AssignmentVersion).where(
        AssignmentVersion.assignment_id == assignment_id,
        AssignmentVersion.status == VersionStatus.LIVE).order_by(
        AssignmentVersion.live_since.desc().nulls_last(),
        AssignmentVersion.number.desc())).first()


def add_version(session: Session, *, assignment_id: str, sha256: str,
                user: User) -> AssignmentVersion:
    for version in list_versions(session, assignment_id=assignment_id):
        if version.status == VersionStatus.VALIDATING:
            raise VersionBusyError(f"version {version.number} is still being validated")
    number = (session.scalar(select(func.max(AssignmentVersion.number)).where(
        AssignmentVersion.assignment_id == assignment_id)) or 0) + 1
    version = AssignmentVersion(assignment_id=assignment_id, number=number,
                                blob_sha256=sha256, uploaded_by=user.id,
                                status=VersionStatus.VALIDATING, problems=[])
    session.add(version)
    session.flush()
    return version


def make_live(session: Session, *, assignment_id: str,
              version: AssignmentVersion | None) -> None:
    """``version`` grades the assignment from now on (None: the bundled folder does)."""
    if version is not None and version.status not in (VersionStatus.LIVE,
                                                      VersionStatus.AVAILABLE):
        raise VersionStateError(f"version {version.number} is {version.status}: only a "
                                "version that passed validation can go live")
    for other in live_versions(session):
        if other.assignment_id == assignment_id and other is not version:
            other.status = VersionStatus.AVAILABLE
    if version is not None:
        version.status = VersionStatus.LIVE
        version.live_since = utcnow()
