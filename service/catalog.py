"""The assignments that grade now: the bundled folders, overridden and extended by the
versions staff published. Every process (the API, each worker) holds one and looks at
the database for newly live versions every few seconds, so a publish needs no restart."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from graders import LoadedAssignment, load_assignment
from service.db import repository as repo
from service.publish.bundle import materialize, read_bundle
from service.storage import BlobStore, read_verified

log = logging.getLogger("autograder.catalog")


def version_folder(store: BlobStore, root: Path, sha256: str) -> Path:
    """An uploaded version's folder on this host, unpacked from storage once."""
    target = root / f"v{sha256[:16]}"
    if target.is_dir():
        return target
    return materialize(root, sha256, read_bundle(read_verified(store, sha256)))


class LiveCatalog(Mapping[str, LoadedAssignment]):
    def __init__(self, bundled: dict[str, LoadedAssignment], *,
                 sessions: sessionmaker[Session], store: BlobStore, root: Path,
                 refresh_s: float = 2.0) -> None:
        self._bundled = dict(bundled)
        self._sessions, self._store, self._root = sessions, store, root
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._live: dict[str, LoadedAssignment] = dict(bundled)
        # assignment id -> the sha of the uploaded version loaded for it
        self._loaded: dict[str, tuple[str, LoadedAssignment]] = {}
        self._broken: set[str] = set()  # versions that did not load here

    @property
    def bundled(self) -> Mapping[str, LoadedAssignment]:
        return self._bundled

    def _current(self) -> dict[str, LoadedAssignment]:
        if time.monotonic() - self._checked >= self._refresh_s:
            self.refresh()
        return self._live

    def refresh(self, *, at_most_every_s: float = 0.0) -> None:
        """Load what went live since the last look (and drop what was withdrawn);
        ``at_most_every_s``: not again so soon (a lookup of an unknown id asks)."""
        with self._lock:
            if time.monotonic() - self._checked < at_most_every_s:
                return
            self._checked = time.monotonic()
            try:
                with self._sessions() as db:
                    # the latest made live wins, the same in every process, should two
                    # staff have made versions live at the same moment
                    live = {v.assignment_id: v.blob_sha256 for v in sorted(
                        repo.live_versions(db), key=lambda v: (v.live_since or v.created_at,
                                                               v.number))}
            except Exception:  # the database away: keep grading with what is loaded
                log.exception("catalog: cannot read the live versions; keeping the last")
                return
            for assignment_id, sha in live.items():
                held = self._loaded.get(assignment_id)
                if (held is not None and held[0] == sha) or sha in self._broken:
                    continue
                try:
                    loaded = load_assignment(version_folder(self._store, self._root, sha))
                except Exception as exc:  # staff code: it loaded in validation, but
                    # a package missing on this host must not stop the others loading
                    log.error("catalog: the live version %s of %s does not load: %s",
                              sha[:12], assignment_id, exc)
                    self._broken.add(sha)  # not imported again on every look
                    continue
                self._loaded[assignment_id] = (sha, loaded)
            for assignment_id in set(self._loaded) - set(live):
                del self._loaded[assignment_id]
            self._live = {**self._bundled,
                          **{aid: loaded for aid, (_, loaded) in self._loaded.items()}}

    def find(self, assignment_id: str) -> LoadedAssignment | None:
        """The assignment, loading it first if a version of it went live since the last
        look. A miss costs one query, not a reload, so unknown ids cannot make work."""
        loaded = self.get(assignment_id)
        try:
            with self._sessions() as db:
                live = repo.live_version(db, assignment_id)
        except Exception:  # the database away: what is loaded is the answer
            log.exception("catalog: cannot look up the live version of %s", assignment_id)
            return loaded
        held = self._loaded.get(assignment_id)
        if live is not None and (held is None or held[0] != live.blob_sha256):
            self.refresh()
            loaded = self.get(assignment_id)
        return loaded

    def __getitem__(self, key: str) -> LoadedAssignment:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._current()))

    def __len__(self) -> int:
        return len(self._current())
