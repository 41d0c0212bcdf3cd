"""Grading time of the TUM PS10 notebook on fixture data: notebook execution (training)
versus grader overhead (sandbox, kernel start, model probes, scoring).

    .venv/bin/python bench/model_grading.py [-n 3]

Makes fixture data in a temporary folder, calibrates (grades the reference notebook once,
10 epochs as the handout says), then grades the one-epoch fixture notebook n times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import Grader  # noqa: E402
from graders.calibrate import calibrate  # noqa: E402
from graders.catalog import discover  # noqa: E402
from graders.sandbox.config import GiB, Limits, SandboxConfig  # noqa: E402
from service.fixtures import make_fixtures  # noqa: E402

NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "tum_ps10" / "correct.ipynb"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ag-model-bench-"))
    started = time.perf_counter()
    make_fixtures(root)
    print(f"fixture data: {time.perf_counter() - started:.1f} s")
    config = SandboxConfig(python_env=Path(sys.prefix), jobs_root=root / "jobs",
                           datasets_dir=root / "datasets")
    limits = Limits(memory_bytes=3 * GiB, cell_timeout_s=1800, total_timeout_s=3600)
    tum = discover()["tum-ps10"]
    started = time.perf_counter()
    accuracies, _ = calibrate(tum, config=config, limits=limits, hidden_dir=root / "hidden")
    print(f"calibration (reference notebook, 10 epochs): {time.perf_counter() - started:.1f} s"
          f" -> {accuracies}")
    rows = []
    grader = Grader(tum, config, limits, root / "hidden", accuracies)
    for _ in range(args.n):
        started = time.perf_counter()
        graded = grader.grade(NOTEBOOK.read_bytes(), NOTEBOOK.name)
        total = time.perf_counter() - started
        t = graded.report.execution.timings
        assert graded.report.score == 20.0, graded.report.questions
        rows.append((total, t.execute_s, t.sandbox_start_s + t.kernel_start_s, t.probes_s,
                     t.compare_s))
    for label, i in (("total", 0), ("notebook execution (1 epoch)", 1),
                     ("sandbox + kernel start", 2), ("model probes", 3), ("scoring", 4)):
        print(f"{label:<30} median {statistics.median(r[i] for r in rows):7.2f} s")
    overhead = [r[0] - r[1] for r in rows]
    print(f"{'grader overhead (total - exec)':<30} median {statistics.median(overhead):7.2f} s")


if __name__ == "__main__":
    main()
