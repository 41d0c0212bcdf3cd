"""The Dispatcher protocol: how queued runs reach workers (a swappable transport)."""

from __future__ import annotations

from typing import Protocol

from graders import LoadedAssignment

QUEUES = ("cpu", "gpu")


def queue_kind(assignment: LoadedAssignment | None) -> str:
    """The queue an assignment's runs go to: ``gpu`` when its spec says it needs one."""
    return "gpu" if assignment is not None and assignment.spec.needs_gpu else "cpu"


class Dispatcher(Protocol):
    def start(self) -> None:
        """Start whatever grades runs (local worker processes, nothing for Celery)."""

    def notify(self, run_id: str) -> None:
        """A run was queued (persisted already; the database is the source of truth)."""

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...
