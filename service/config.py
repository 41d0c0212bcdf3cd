"""Settings: one pydantic-settings class, built by a factory, never at import time."""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from graders import GiB, Limits, SandboxConfig

if TYPE_CHECKING:
    from graders import KernelPool


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOGRADER_", frozen=True)

    environment: str = "development"  # "production" refuses unsafe settings
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite under data_dir
    reference_dir: Path | None = None  # default: the bundled reference/
    workers: int = 2  # local worker processes started by `autograder serve`
    # threads that accept uploads: one, so a deadline burst does not spend its CPU on
    # threads handing the GIL to one another (800 at once: 2.8 ms of CPU per upload with
    # one, 4.1 ms with two, 9-11 ms with the 40 of the shared thread pool)
    intake_threads: int = Field(default=1, ge=1, le=64)
    # uploads answered before FastAPI's routing (service/api/fast_intake.py); false: by
    # the route itself, which answers alike, with a third more CPU per upload
    fast_intake: bool = True
    lease_s: float = 60.0  # a run whose worker stops renewing for this long is requeued
    poll_interval_s: float = 0.25
    max_attempts: int = 3  # for infrastructure faults only
    dispatcher: str = "local"  # "local" (worker processes here) or "celery"
    broker_url: str | None = None  # e.g. redis://127.0.0.1:6379/0 for celery
    queue_prefix: str = "autograder"
    # the API re-sends a task for a run still queued after this long (a lost message)
    resend_after_s: float = 30.0
    # a worker counts as alive for its queue while its heartbeat is younger than this
    worker_alive_s: float = 30.0
    # how often a worker removes what killed graders on its host left behind
    reap_interval_s: float = Field(default=60.0, gt=0)
    # how long a worker keeps retrying a database write while the database is away
    db_retry_s: float = 120.0
    log_format: str = "text"  # "json": one JSON object per line, with run ids

    # where uploads and executed notebooks live: "local" (data_dir/blobs), "database"
    # (chunked rows: workers need only the database URL) or "s3" (an S3-compatible store)
    storage: str = "local"
    max_blob_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # MinIO, Ceph...; None for AWS
    s3_region: str | None = None
    s3_prefix: str = "blobs/"

    # sandbox
    grading_env: Path = Path(sys.prefix)
    jobs_dir: Path = Path(tempfile.gettempdir()) / "ml-autograder-jobs"
    sandbox_uid: int = 10001
    sandbox_gid: int = 10001
    unsafe_no_sandbox: bool = False
    bwrap: str = "bwrap"  # the bubblewrap executable (a name on PATH or a path)
    # kernels forked from a zygote into each sandbox (root only): off, each kernel is a
    # fresh interpreter bubblewrap starts
    fork_kernels: bool = True
    memory_limit_bytes: int = 3 * GiB
    max_processes: int = 128
    # Caps on every assignment's own time budgets, only when set on purpose: by default
    # each assignment's spec decides (a training cell may need 30 minutes).
    cell_timeout_s: float | None = None
    total_timeout_s: float | None = None
    call_timeout_s: float = 30.0
    gpu: int | None = None
    # CPU threads of one job's kernel (torch, BLAS, OpenMP): one value for every worker of
    # a queue, so the same hand-in trains the same way wherever it is graded
    threads_per_job: int = Field(default=1, ge=1, le=64)
    # trained-model questions: datasets (torchvision layout) and torch hub weights are
    # mounted read-only into every sandbox; hidden test sets are read by the grader only
    datasets_dir: Path | None = None
    weights_dir: Path | None = None
    hidden_dir: Path | None = None
    # measure missing calibrations (reference accuracies) in the background at start-up
    calibrate_at_start: bool = True
    # who may publish assignment versions: their spec.py and solution.py run in the
    # service's processes (as the bundled reference/ does), and instructor is a role
    # over every course; "instructor" lets course staff publish where they are trusted
    publish_by: Literal["instructor", "admin"] = "admin"
    # warm kernels each worker keeps ready per profile (numpy; numpy+torch), within a
    # memory budget per worker; 0 turns the pool off (every kernel starts cold)
    pool_size: int = Field(default=1, ge=0, le=8)
    # any request body, refused before it is read (a submission is at most 20 MiB; an
    # assignment's own limit applies below this)
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    pool_memory_mb: int = Field(default=2048, ge=0)
    # LTI 1.3: the address an LMS and its users reach this service at (its launch,
    # login and key URLs are built on it; default: http://host:port)
    public_url: str | None = None
    # platforms registered from a file at start-up (a JSON list of registrations, the
    # body POST /api/v1/lti/platforms takes), besides those staff add over the API
    lti_platforms_file: Path | None = None
    session_hours: float = Field(default=8.0, gt=0, le=24 * 14)  # an LTI launch's sign-in
    lti_passback_interval_s: float = Field(default=2.0, gt=0)
    # how often released assignments' totals are compared with what the LMS was sent
    lti_refresh_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Settings:
        if self.environment == "production" and self.unsafe_no_sandbox:
            raise ValueError("unsafe_no_sandbox cannot be used in production")
        if self.dispatcher not in ("local", "celery"):
            raise ValueError("dispatcher must be 'local' or 'celery'")
        if self.storage not in ("local", "database", "s3"):
            raise ValueError("storage must be 'local', 'database' or 's3'")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("storage 's3' needs s3_bucket")
        if self.log_format not in ("text", "json"):
            raise ValueError("log_format must be 'text' or 'json'")
        if self.dispatcher == "celery" and not self.broker_url:
            raise ValueError("the celery dispatcher needs broker_url (e.g. redis://...)")
        return self

    def queue(self, kind: str) -> str:
        """The broker queue for ``cpu`` or ``gpu`` work."""
        return f"{self.queue_prefix}.{kind}"

    @property
    def assignments_dir(self) -> Path:
        """Where this host unpacks the assignment versions staff published."""
        return (self.data_dir / "assignments").resolve()

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'autograder.db').resolve()}"

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(
            python_env=self.grading_env.resolve(),
            jobs_root=self.jobs_dir,
            sandbox_uid=self.sandbox_uid,
            sandbox_gid=self.sandbox_gid,
            unsafe_no_sandbox=self.unsafe_no_sandbox,
            bwrap=self.bwrap,
            datasets_dir=self.datasets_dir.resolve() if self.datasets_dir else None,
            weights_dir=self.weights_dir.resolve() if self.weights_dir else None,
            fork_kernels=self.fork_kernels,
        )

    def kernel_pool(self, *, per_profile: int | None = None,
                    refill: bool = True) -> KernelPool | None:
        from graders import KernelPool

        size = self.pool_size if per_profile is None else per_profile
        if size <= 0 or self.pool_memory_mb <= 0:
            return None
        return KernelPool(self.sandbox_config(), per_profile=size,
                          memory_budget_bytes=self.pool_memory_mb * 1024**2, refill=refill)

    def limits(self) -> Limits:
        return Limits(
            memory_bytes=self.memory_limit_bytes,
            max_processes=self.max_processes,
            cell_timeout_s=self.cell_timeout_s or math.inf,
            total_timeout_s=self.total_timeout_s or math.inf,
            call_timeout_s=self.call_timeout_s,
            gpu=self.gpu,
            threads=self.threads_per_job,
        )
