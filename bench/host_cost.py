"""The host side of one grading, without the sandbox: reading the upload, planning the
probe inputs and writing the plan, validating the kernel's messages as they come back,
scoring the evidence a run left, and serialising the report to store (what a worker
does around the kernel, and all a rescore does). Measured on the recorded fixture
hand-ins of every bundled assignment, each phase cold (the per-notebook caches cleared),
median of N.

    .venv/bin/python bench/host_cost.py [-n 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.catalog import discover  # noqa: E402
from graders.evidence import EvidenceRecord  # noqa: E402
from graders.inputs import plan_calls  # noqa: E402
from graders.pipeline.grade import score_evidence  # noqa: E402
from graders.pipeline.intake import load_submission  # noqa: E402
from graders.pipeline.staging import write_plan  # noqa: E402
from graders.protocol import parse_message  # noqa: E402
from graders.results import report_from_json, report_to_json  # noqa: E402
from graders.scoring.models import context as context_module  # noqa: E402
from tests.evidence import MANIFEST  # noqa: E402

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
RECORDINGS = ROOT / "tests" / "recordings"


def _memos() -> list:
    """Every memo the grading modules keep (functools caches by content): cleared before
    each run, so that a run is what a new hand-in costs, where only cells copied from the
    handout repeat across students. The hidden labels stay read: they are the
    assignment's, not the hand-in's."""
    return [f for name, module in sorted(sys.modules.items())
            if name.startswith("graders.scoring.")
            for f in vars(module).values() if callable(getattr(f, "cache_clear", None))
            and f is not context_module._labels]


def _median_ms(fn, n: int) -> float:
    times = []
    memos = _memos()
    for _ in range(n):
        for memo in memos:
            memo.cache_clear()
        context_module._DECODED.clear()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=15)
    parser.add_argument("--hidden", type=Path, default=None,
                        help="the fixture data's hidden sets (accuracy checks need them)")
    args = parser.parse_args()
    catalog = discover()
    print("| assignment | hand-in | parse | plan | validate | score | store | total |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for assignment_id, (folder, names) in MANIFEST.items():
        assignment = catalog[assignment_id]
        for name in names[:3]:
            recording = RECORDINGS / assignment_id / f"{name}.json"
            if not recording.is_file():
                continue
            body = json.loads(recording.read_text())
            report = report_from_json(json.dumps(body["report"]))
            data = (NOTEBOOKS / folder / name).read_bytes()
            evidence = EvidenceRecord.of(report)
            parse = _median_ms(lambda d=data, f=name: load_submission(d, f), args.n)
            spec, calibration = assignment.spec, body["calibration"]
            plan = _median_ms(lambda s=evidence.seed, p=spec: _plan(p, s), args.n)
            messages = _messages(report)
            validate = _median_ms(lambda m=messages: [parse_message(x) for x in m], args.n)
            score = _median_ms(lambda e=evidence, a=assignment, c=calibration: score_evidence(
                a, e, hidden_dir=args.hidden, calibration=c), args.n)
            store = _median_ms(lambda r=report: report_to_json(r), args.n)
            total = parse + plan + validate + score + store
            print(f"| {assignment_id} | {name} | {parse:.1f} ms | {plan:.1f} ms | "
                  f"{validate:.1f} ms | {score:.1f} ms | {store:.1f} ms | {total:.1f} ms |")


def _messages(report) -> list[dict]:
    """The kernel's messages that carried this evidence, as they arrive: the definitions,
    then each call's start and answer."""
    nonce = "n" * 32
    out: list[dict] = [{"kind": "candidates", "nonce": nonce, "candidates": [
        c.model_dump(mode="json") for c in report.candidates]}]
    for probe in report.probes:
        head = {"nonce": nonce, "call_id": probe.call_id, "symbol": probe.symbol,
                "candidate": probe.candidate}
        out.append({"kind": "start", **head})
        out.append({"kind": "result", **head, "status": probe.status.value,
                    "value": probe.value, "error": probe.error,
                    "duration_s": probe.duration_s})
    return out


def _plan(spec, seed: int) -> None:
    """The probe inputs planned and written as the kernel reads them (plan.json)."""
    with tempfile.TemporaryDirectory() as folder:
        write_plan(Path(folder), plan_calls(spec, seed), spec.symbols, [])


if __name__ == "__main__":
    main()
