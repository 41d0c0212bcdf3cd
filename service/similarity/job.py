"""The background comparison: ``python -m service.similarity.job RUN_ID FOLDER``.

It runs in a process of its own, started by the API, so that a few seconds of CPU per
hundred hand-ins never stall a request; it dies with the process that started it, and
a run it leaves unfinished reads as failed once its heartbeat is old.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from graders import SubmissionFormatError
from service import background
from service.config import Settings
from service.db import repository as repo
from service.db.base import utcnow
from service.db.models import SimilarityRun, SimilarityStatus
from service.db.session import make_engine, make_sessionmaker
from service.logs import configure_logging
from service.similarity.compare import Pair, Source, boilerplate_texts, compare, notebook_code
from service.storage import StorageError, make_store, read_verified

log = logging.getLogger("autograder.similarity")
# 500 hand-ins take seconds (bench/similarity.py); a job still going after this is stuck
JOB_TIMEOUT_S = 1800.0


def launch(settings: Settings, run_id: str, assignment_folder: Path) -> None:
    """Start the job for a queued run."""
    background.launch(settings, "service.similarity.job", run_id, str(assignment_folder),
                      timeout_s=JOB_TIMEOUT_S, name=f"similarity-{run_id}")


def pair_json(pair: Pair) -> dict[str, object]:
    return {"a": pair.a, "b": pair.b, "similarity_a": round(pair.similarity_a, 4),
            "similarity_b": round(pair.similarity_b, 4), "overlap": pair.overlap,
            "regions_a": [list(r) for r in pair.regions_a],
            "regions_b": [list(r) for r in pair.regions_b]}


def run(settings: Settings, run_id: str, assignment_folder: Path) -> None:
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    store = make_store(settings, sessions)

    def update(**values: object) -> None:
        background.update_row(sessions, SimilarityRun, run_id,
                              running=SimilarityStatus.RUNNING, **values)

    stop = background.heartbeat(sessions, SimilarityRun, run_id, every_s=10.0)
    try:
        background.update_row(sessions, SimilarityRun, run_id,
                              status=SimilarityStatus.RUNNING)
        with sessions.begin() as db:
            found = db.get(SimilarityRun, run_id)
            assert found is not None
            submissions, _ = repo.list_submissions(db, assignment_id=found.assignment_id,
                                                   latest_only=True, limit=1_000_000)
            wanted = [(s.id, s.blob_sha256, s.filename) for s in submissions]
        sources, last = [], time.monotonic()
        for sub_id, sha, filename in wanted:
            try:
                sources.append(Source(sub_id, notebook_code(read_verified(store, sha),
                                                            filename)))
            except (SubmissionFormatError, StorageError) as exc:
                log.info("similarity %s: %s left out: %s", run_id, sub_id, exc)
            except Exception:  # one hostile hand-in must not fail the class's comparison
                log.exception("similarity %s: %s left out", run_id, sub_id)
            if time.monotonic() - last > 5:
                update(submissions=len(sources))
                last = time.monotonic()
        update(submissions=len(sources))

        def progress(done: int, total: int) -> None:
            update(compared=done)

        pairs = compare(sources, boilerplate_texts(assignment_folder), progress=progress)
        update(status=SimilarityStatus.DONE, pairs=[pair_json(p) for p in pairs],
               finished_at=utcnow())
        log.info("similarity %s: %d hand-ins, %d pairs kept", run_id, len(sources),
                 len(pairs))
    except background.JobAbandoned:
        log.warning("similarity %s: settled as dead while it ran; its result is dropped",
                    run_id)
    except Exception as exc:  # recorded for staff, then re-raised for the log
        background.update_row(sessions, SimilarityRun, run_id,
                              status=SimilarityStatus.FAILED, finished_at=utcnow(),
                              error=f"The comparison failed: {type(exc).__name__}: "
                                    f"{exc}"[:2000])
        raise
    finally:
        stop.set()


def main() -> None:
    from service.worker import die_with_parent

    die_with_parent()
    settings = Settings()
    configure_logging(settings.log_format, "similarity")
    run(settings, sys.argv[1], Path(sys.argv[2]))


if __name__ == "__main__":
    main()
