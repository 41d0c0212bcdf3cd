"""How the pipeline gets a submission executed: the ``Executor`` protocol.

``SandboxExecutor`` runs the notebook in bubblewrap (the real thing). ``ReplayExecutor``
plays back what a stored report recorded (cells, candidates, probe records), so scorers
and the pipeline can be tested without a sandbox, as httpx's ``MockTransport`` stands
in for the network.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nbformat import NotebookNode

from graders.errors import SandboxError
from graders.results import Candidate, CellRecord, ProbeRecord, SandboxEvent
from graders.runner.execute import Execution, ProbeRequest, run_submission
from graders.runner.pool import KernelPool
from graders.sandbox.config import Limits, SandboxConfig


class Executor(Protocol):
    def execute(self, notebook: NotebookNode, *, job: Path, limits: Limits,
                request: ProbeRequest, seed: int,
                cell_timeouts: dict[int, float]) -> Execution: ...


@dataclass(frozen=True)
class SandboxExecutor:
    """Runs in bubblewrap; with a ``pool``, on a warm kernel when one is ready (and on
    the pool's loop, so several threads can grade through one pool at once)."""

    config: SandboxConfig
    pool: KernelPool | None = None

    def execute(self, notebook: NotebookNode, *, job: Path, limits: Limits,
                request: ProbeRequest, seed: int,
                cell_timeouts: dict[int, float]) -> Execution:
        run = run_submission(notebook, job=job, config=self.config, limits=limits,
                             request=request, seed=seed, cell_timeouts=cell_timeouts,
                             pool=self.pool)
        try:
            # without a pool each run gets its own event loop
            return self.pool.run(run) if self.pool else asyncio.run(run)
        except OSError as exc:
            raise SandboxError(f"sandbox set-up failed: {exc}") from exc


@dataclass
class ReplayExecutor:
    """Answers with recorded results; the notebook is returned as given (no outputs
    unless ``notebook`` is set to an executed one)."""

    candidates: list[Candidate] = field(default_factory=list)
    records: list[ProbeRecord] = field(default_factory=list)
    cells: list[CellRecord] = field(default_factory=list)
    events: list[SandboxEvent] = field(default_factory=list)
    notebook: NotebookNode | None = None
    calls: int = 0

    def execute(self, notebook: NotebookNode, *, job: Path, limits: Limits,
                request: ProbeRequest, seed: int,
                cell_timeouts: dict[int, float]) -> Execution:
        self.calls += 1
        return Execution(
            notebook=self.notebook if self.notebook is not None else notebook,
            cells=list(self.cells), events=list(self.events),
            candidates=list(self.candidates), records=list(self.records),
            kernel_starts=0, sandbox_start_s=0.0, kernel_start_s=0.0, execute_s=0.0,
            probes_s=0.0, peak_memory_bytes=None)
