"""Offline batch grading: many submissions, graded in parallel on warm kernels.

Input is any mix of files, folders and zips of submissions (a course platform's export):
in a folder or a batch zip, each notebook, ``.py`` or inner ``.zip`` at the top is one
submission, and each top-level folder is one submission (its files zipped together, so
a student's helper modules travel with their notebook).
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from graders import (
    ConfigurationError,
    Grader,
    GraderError,
    LoadedAssignment,
    ReportStatus,
    SandboxExecutor,
    kernel_profiles,
)
from service.config import Settings

SUBMISSION_SUFFIXES = (".ipynb", ".py", ".zip")
MAX_BATCH_BYTES = 2 * 1024**3


class ItemStatus(StrEnum):
    GRADED = "graded"
    NOT_GRADABLE = "not_gradable"  # the file itself (the student's fault)
    FAILED = "failed"  # ours: infrastructure or configuration


@dataclass(frozen=True)
class BatchItem:
    name: str  # what staff see: the path inside the folder or zip
    filename: str  # what the engine sees (its suffix picks the parser)
    data: bytes


@dataclass(frozen=True)
class ItemResult:
    name: str
    status: ItemStatus
    score: float | None = None
    max_score: float | None = None
    questions: dict[str, float] = field(default_factory=dict)
    warm_kernel: bool = False
    seconds: float = 0.0
    reason: str | None = None


def collect(paths: Iterable[Path]) -> list[BatchItem]:
    """Every submission under ``paths`` (files, folders, zips of submissions)."""
    items: list[BatchItem] = []
    for path in paths:
        if path.is_dir():
            items += _from_folder(path)
        elif path.suffix.lower() == ".zip" and _is_batch_zip(path.read_bytes()):
            items += _from_zip(path.name, path.read_bytes())
        else:
            items.append(BatchItem(path.name, path.name, path.read_bytes()))
    return items


def _from_folder(folder: Path) -> list[BatchItem]:
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = {str(p.relative_to(entry)): p.read_bytes()
                     for p in sorted(entry.rglob("*")) if p.is_file()}
            found.append(BatchItem(entry.name, f"{entry.name}.zip", _zip(files)))
        elif entry.suffix.lower() in SUBMISSION_SUFFIXES:
            found.append(BatchItem(entry.name, entry.name, entry.read_bytes()))
    return found


def _tops(archive: zipfile.ZipFile) -> dict[str, list[zipfile.ZipInfo]]:
    groups: dict[str, list[zipfile.ZipInfo]] = {}
    for info in archive.infolist():
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        top = PurePosixPath(info.filename).parts[0]
        groups.setdefault(top, []).append(info)
    return groups


def _is_batch_zip(data: bytes) -> bool:
    """A zip of several submissions, not one submission with its helper files: it holds
    several notebooks at the top, an inner zip, or several folders with a notebook."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return False  # graded as one file: the engine explains what is wrong with it
    groups = _tops(archive)
    notebooks = [t for t, g in groups.items() if len(g) == 1 and g[0].filename == t
                 and t.lower().endswith(".ipynb")]
    zips = [t for t in groups if t.lower().endswith(".zip")]
    folders = [t for t, g in groups.items()
               if any(i.filename.lower().endswith(".ipynb") and i.filename != t for i in g)]
    return len(notebooks) > 1 or bool(zips) or len(folders) > 1


def _from_zip(name: str, data: bytes) -> list[BatchItem]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    found = []
    total = 0
    for top, members in sorted(_tops(archive).items()):
        total += sum(m.file_size for m in members)
        if total > MAX_BATCH_BYTES:
            raise ValueError(f"{name} unpacks to more than {MAX_BATCH_BYTES >> 30} GiB")
        if len(members) == 1 and members[0].filename == top:
            if top.lower().endswith(SUBMISSION_SUFFIXES):
                found.append(BatchItem(f"{name}/{top}", top, archive.read(members[0])))
            continue
        files = {str(PurePosixPath(m.filename).relative_to(top)): archive.read(m)
                 for m in members}
        found.append(BatchItem(f"{name}/{top}", f"{top}.zip", _zip(files)))
    return found


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def grade_batch(items: list[BatchItem], *, assignment: LoadedAssignment, settings: Settings,
                jobs: int, calibration: dict[str, float] | None,
                on_done: Callable[[ItemResult], None] | None = None) -> list[ItemResult]:
    """Grade ``items`` ``jobs`` at a time, sharing one pool of warm kernels; results in
    the order of ``items``."""
    config, limits = settings.sandbox_config(), settings.limits()
    pool = settings.kernel_pool(per_profile=max(1, jobs))
    if pool is not None:
        pool.prefill(kernel_profiles(assignment, limits))
    grader = Grader(assignment, config, limits, settings.hidden_dir, calibration,
                    SandboxExecutor(config, pool))

    def one(item: BatchItem) -> ItemResult:
        started = time.perf_counter()
        try:
            graded = grader.grade(item.data, item.filename)
        except GraderError as exc:
            kind = "configuration" if isinstance(exc, ConfigurationError) else "infrastructure"
            return ItemResult(item.name, ItemStatus.FAILED, reason=f"{kind}: {exc}",
                              seconds=time.perf_counter() - started)
        report = graded.report
        if report.status is not ReportStatus.GRADED:
            return ItemResult(item.name, ItemStatus.NOT_GRADABLE, reason=report.reason,
                              seconds=time.perf_counter() - started)
        return ItemResult(
            item.name, ItemStatus.GRADED, score=report.score, max_score=report.max_score,
            questions={q.id: q.points for q in report.questions
                       if q.outcome.value != "manual"},
            warm_kernel=report.execution.warm_kernel,
            seconds=time.perf_counter() - started)

    results: dict[int, ItemResult] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
            futures = {threads.submit(one, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_done is not None:
                    on_done(result)
    finally:
        if pool is not None:
            pool.close()
    return [results[i] for i in range(len(items))]


def write_summary(results: list[ItemResult], target: Path) -> None:
    """One CSV row (or JSON object) per submission; the suffix picks the format."""
    if target.suffix.lower() == ".json":
        target.write_text(json.dumps([as_row(r) for r in results], indent=2))
        return
    qids = sorted({q for r in results for q in r.questions})
    with target.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", "status", "score", "max_score", *qids,
                         "warm_kernel", "seconds", "reason"])
        for r in results:
            writer.writerow([r.name, r.status.value, _num(r.score), _num(r.max_score),
                             *(_num(r.questions.get(q)) for q in qids), r.warm_kernel,
                             f"{r.seconds:.2f}", r.reason or ""])


def as_row(r: ItemResult) -> dict[str, object]:
    return {"submission": r.name, "status": r.status.value, "score": r.score,
            "max_score": r.max_score, "questions": r.questions,
            "warm_kernel": r.warm_kernel, "seconds": round(r.seconds, 3),
            "reason": r.reason}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
