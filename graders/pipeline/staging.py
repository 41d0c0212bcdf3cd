"""What the trusted side writes into a job's directory before the kernel starts: the
probe plan (its input arrays inside it) and the files that sit next to the notebook."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from graders.inputs import PlannedCall
from graders.protocol import PlannedCallWire, ProbePlan
from graders.scoring.values import encode_input

MAX_OUTPUT_BYTES_PER_CALL = 8 * 1024 * 1024


def write_plan(directory: Path, calls: list[PlannedCall], symbols: tuple[str, ...],
               models: list[dict[str, Any]]) -> None:
    plan = ProbePlan(
        symbols=list(symbols), models=models, max_output_bytes=MAX_OUTPUT_BYTES_PER_CALL,
        calls=[PlannedCallWire(id=c.call_id, symbol=c.symbol, timeout_s=c.timeout_s,
                               args=[encode_input(a) for a in c.args])
               for c in calls])
    (directory / "plan.json").write_text(plan.model_dump_json())


def stage_files(directory: Path, support: Path, attachments: dict[str, bytes]) -> dict[str, str]:
    """The course's support files, then the student's own files over them (theirs win:
    they run sandboxed anyway). Returns name -> "course" | "submission"; nothing is
    created when there are no files."""
    used: dict[str, str] = {}
    if not support.is_dir() and not attachments:
        return used
    directory.mkdir(mode=0o755)
    if support.is_dir():
        for source in sorted(support.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                name = str(source.relative_to(support))
                target = directory / name
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                shutil.copyfile(source, target)
                used[name] = "course"
    for name, content in attachments.items():  # paths already checked by unpack_zip
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.write_bytes(content)
        used[name] = "submission"
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return used
