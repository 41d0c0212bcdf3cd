"""Validating an uploaded version: ``python -m service.publish.job VERSION_ID``.

Staff code is imported here, in a process of its own that the API starts and bounds in
time (trusted code, as the bundled ``reference/`` is, but a bug in it must not hang the
API); the reference notebook and a blank notebook are graded in the sandbox exactly as a
student's hand-in would be. The version goes live only if every check holds.
"""

from __future__ import annotations

import json
import logging
import sys

from graders import Grader, SandboxExecutor, load_assignment
from service import background
from service.catalog import version_folder
from service.config import Settings
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import AssignmentVersion, VersionStatus
from service.db.session import make_engine, make_sessionmaker
from service.logs import configure_logging
from service.publish.verdict import problems as verdict_problems
from service.storage import BlobStore, make_store

log = logging.getLogger("autograder.publish")
# the reference notebook of a course with training in it takes minutes on 2 cores
JOB_TIMEOUT_S = 3600.0
HEARTBEAT_S = 10.0
BLANK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def launch(settings: Settings, version_id: str, *, taken: tuple[str, ...] = ()) -> None:
    """Start the validation of a new version, bounded in time.
    ``taken``: spec versions graded under already (the bundled folder's)."""
    background.launch(settings, "service.publish.job", version_id, *taken,
                      timeout_s=JOB_TIMEOUT_S, name=f"publish-{version_id}")


def validate(settings: Settings, version_id: str, taken: tuple[str, ...] = ()) -> list[str]:
    """The problems that keep the version from going live (none: it is live now)."""
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    store = make_store(settings, sessions)
    with sessions.begin() as db:
        version = db.get(AssignmentVersion, version_id)
        assert version is not None
        assignment_id, sha, number = version.assignment_id, version.blob_sha256, version.number
        # a rejected version graded nothing: its version string is free again
        earlier = {v.spec_version: v.number for v in
                   repo.list_versions(db, assignment_id=assignment_id)
                   if v.number != number and v.spec_version is not None
                   and v.status != VersionStatus.REJECTED}
        earlier.update({spec_version: 0 for spec_version in taken})
    stop = background.heartbeat(sessions, AssignmentVersion, version_id, HEARTBEAT_S)
    try:
        found = _check(settings, store, assignment_id, sha, earlier)
    except Exception as exc:  # staff code raising anything is a problem of the upload
        log.exception("publish %s: validation failed", version_id)
        found = ([f"the assignment does not load: {type(exc).__name__}: {exc}"[:2000]], {})
    finally:
        stop.set()
    problems, measured = found
    with sessions.begin() as db:
        version = db.get(AssignmentVersion, version_id)
        assert version is not None
        for key, value in measured.items():
            setattr(version, key, value)
        version.problems = problems
        version.validated_at = version.updated_at = utcnow()
        version.status = VersionStatus.REJECTED if problems else VersionStatus.AVAILABLE
        if not problems:
            repo.make_live(db, assignment_id=assignment_id, version=version)
    log.info("publish %s: %s %s", version_id, assignment_id,
             "live" if not problems else f"rejected: {problems}")
    return problems


def _check(settings: Settings, store: BlobStore, assignment_id: str, sha: str,
           earlier: dict[str, int]) -> tuple[list[str], dict[str, object]]:
    loaded = load_assignment(version_folder(store, settings.assignments_dir, sha))
    spec = loaded.spec
    measured: dict[str, object] = {"spec_version": spec.version[:20], "title": spec.title[:300],
                                   "autograded_points": float(spec.autograded_points)}
    if len(spec.version) > 20:
        return [f"version={spec.version[:40]!r} in spec.py is longer than 20 characters, "
                "which gradings record"], measured
    if spec.id != assignment_id:
        return [f"spec.py says the assignment is {spec.id!r}, but it was uploaded as "
                f"{assignment_id!r}"], measured
    if spec.version in earlier:
        which = f"version {earlier[spec.version]}" if earlier[spec.version] else \
            "the bundled version"
        return [f"{which} already has version={spec.version!r} in spec.py: give this one "
                "a new version, so that every grading says which version graded it"], measured
    if not spec.reference_notebook:
        return ["spec.py names no reference_notebook: nothing would show that its checks "
                "can be passed"], measured
    config, limits = settings.sandbox_config(), settings.limits()
    grader = Grader.calibrated(loaded, config=config, limits=limits,
                               hidden_dir=settings.hidden_dir,
                               executor=SandboxExecutor(config, None))
    notebook = loaded.path / spec.reference_notebook
    reference = grader.grade(notebook.read_bytes(), notebook.name).report
    blank = grader.grade(BLANK, "blank.ipynb").report
    measured.update(reference_points=reference.score, blank_points=blank.score)
    return verdict_problems(reference, blank), measured


def main() -> None:
    from service.worker import die_with_parent

    die_with_parent()
    settings = Settings()
    configure_logging(settings.log_format, "publish")
    validate(settings, sys.argv[1], tuple(sys.argv[2:]))


if __name__ == "__main__":
    main()
