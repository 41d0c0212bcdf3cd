"""The grading process's memory under hostile output, beside an honest notebook.

Each case is graded in a fresh process (so its peak RSS is its own): a correct EE-411
part-1 notebook, the same with one 200 MB display message (refused before it is read:
over libzmq's frame cap), with fifty 15 MB messages (under the cap: read, then dropped
by the output caps), with a 100 MB stdout flood (capped), and with 20,000 small display
messages. Prints each
case's peak RSS of the grading process and its ratio to the honest one. Plain Python:

    .venv/bin/python bench/hostile_memory.py
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "ee411_hw3" / "correct_basic.ipynb"
CASES = {
    "honest": None,
    "one 200 MB display message": "from IPython.display import display\n"
                                  "display({'text/plain': 'x' * (200 * 1024 * 1024)}, raw=True)",
    "50 display messages of 15 MB each": "from IPython.display import display\n"
                                        "x = 'x' * (15 * 1024 * 1024)\n"
                                        "for _ in range(50):\n"
                                        "    display({'text/plain': x}, raw=True)",
    "100 MB of stdout": "import sys\nfor _ in range(100):\n"
                        "    sys.stdout.write('x' * (1024 * 1024))",
    "20,000 display messages": "from IPython.display import display\n"
                               "for i in range(20_000):\n    display({'text/plain': str(i)}, "
                               "raw=True)",
}


def grade(extra: str | None) -> tuple[float, float]:
    import nbformat

    from graders import Grader
    from graders.catalog import discover
    from graders.sandbox.config import Limits, SandboxConfig

    nb = nbformat.read(NOTEBOOK, as_version=4)
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    config = SandboxConfig(python_env=Path(sys.prefix),
                           jobs_root=Path(tempfile.gettempdir()) / "ml-autograder-bench")
    grader = Grader(discover()["ee411-hw3"], config, Limits(cell_timeout_s=120))
    graded = grader.grade(nbformat.writes(nb).encode(), "hw.ipynb")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak_mib, graded.report.score


def main() -> None:
    results = {}
    for name, extra in CASES.items():
        with ProcessPoolExecutor(max_workers=1) as one:  # a fresh process per case
            results[name] = one.submit(grade, extra).result()
    honest = results["honest"][0]
    for name, (peak, score) in results.items():
        print(f"{name:28s} peak RSS {peak:7.0f} MiB  x{peak / honest:4.2f}  score {score:g}")
    print(json.dumps({k: round(v[0]) for k, v in results.items()}))


if __name__ == "__main__":
    main()
