"""ml-autograder side by side with otter-grader, in one run, on the same 20 EE-411 part-1
hand-ins (bench/submissions.py: correct, wrong, looping, crashing).

    .venv/bin/python bench/otter_compare.py [-n 20]

Installs otter-grader from the package index into its own venv (var/bench/otter-venv,
once), writes an otter autograder zip whose tests check what ours check (same points),
then measures:

1. one submission at a time: ``otter run`` vs our one-shot ``autograder grade`` (cold);
2. one submission at a time through the service (2 workers, warm pool): submit -> report;
3. throughput with 2 in parallel: otter (2 processes) vs the service (2 workers) vs
   ``autograder grade --jobs 2`` on the folder;
4. a tiny torch notebook through the service: grading time over its own compute.

``--throughput`` measures only the issue's acceptance instead: the 19 hand-ins that do
not loop forever, at once through the service (2 workers) and through ``autograder grade
--jobs 2``, three times each, with kernels forked from a zygote and then started by
bubblewrap (``AUTOGRADER_FORK_KERNELS=false``), in one run.

Otter has no time limit of its own: a hand-in whose function never returns would hold
it forever, so each otter run is stopped at ``--otter-timeout`` seconds and counted at
that. Ratios are printed both with and without that one hand-in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.submissions import generate  # noqa: E402
from service.db.models import Role  # noqa: E402
from tests.service.conftest import LiveServer  # noqa: E402

OTTER_VENV = ROOT / "var" / "bench" / "otter-venv"
AUTOGRADER = [sys.executable, "-m", "service.cli"]

SETUP = ("import numpy as np\nrng = np.random.default_rng(411)\n"
         "X = rng.standard_normal((16, 7)); W = {'w_1': rng.standard_normal((7, 5)), "
         "'w_2': rng.standard_normal((5, 1))}\ny = (rng.random(16) > 0.5).astype(float)\n"
         "sig = lambda z: 1 / (1 + np.exp(-z))\n")
# the reference inline (otter's tests run next to the student's code, as otter's do)
OTTER_TESTS = {
    "q1_1": (5, [">>> _, _, y_hat = predict(X, W)",
                 ">>> bool(np.allclose(np.ravel(y_hat), np.ravel(sig(sig(X @ W['w_1']) @ "
                 "W['w_2']))))", "True"]),
    "q1_2": (5, [">>> yh = sig(rng.standard_normal(16))",
                 ">>> bool(np.isclose(logistic_loss(y, yh), np.mean(-y * np.log(yh) - "
                 "(1 - y) * np.log(1 - yh))))", "True"]),
    "q1_3": (6, [">>> z = np.array([-1e10, -5.0, 0.0, 5.0, 1e10]); t = np.array([0, 1, 0, 1, 1.])",
                 ">>> bool(np.isclose(stable_logistic_loss(t, z), np.mean((1 - t) * z + "
                 "np.logaddexp(0, -z))))", "True"]),
    "q1_5": (12, [">>> g = gradient(X, y, W)",
                  ">>> x1 = sig(X @ W['w_1']); d2 = (sig(x1 @ W['w_2']).ravel() - y)"
                  ".reshape(-1, 1) / len(y)",
                  ">>> bool(np.allclose(g['w_2'], x1.T @ d2) and np.allclose(g['w_1'], "
                  "X.T @ ((d2 @ W['w_2'].T) * x1 * (1 - x1))))", "True"]),
}


BENCH_SPEC = """\
# EE-411 as a course grading part 1 only (or part 1 and the parameter-count question)
# would deploy it: no KMNIST, so nothing to calibrate.
import dataclasses
import importlib.util

_spec = importlib.util.spec_from_file_location("_bench_ee411_full", {full!r})
_full = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_full)
ASSIGNMENT = dataclasses.replace(
    _full.ASSIGNMENT, id={id!r}, datasets=(), reference_notebook=None,
    questions=tuple(q for q in _full.ASSIGNMENT.questions if q.id in {keep!r}))
"""


def bench_reference(folder: Path) -> Path:
    """Two bench assignments: EE-411 part 1 (what otter's tests check), and part 1 with
    question 2.4 (a model question: torch hand-ins then get torch kernels)."""
    import shutil

    source = ROOT / "reference" / "ee411_hw3"
    for name, keep in (("ee411-part1", ("1.1", "1.2", "1.3", "1.4", "1.5")),
                       ("ee411-part1-torch", ("1.1", "1.2", "1.3", "1.4", "1.5", "2.4"))):
        target = folder / name.replace("-", "_")
        target.mkdir(parents=True)
        shutil.copy(source / "solution.py", target / "solution.py")
        if (source / "support").is_dir():
            shutil.copytree(source / "support", target / "support")
        (target / "spec.py").write_text(BENCH_SPEC.format(
            full=str(source / "spec.py"), id=name, keep=keep))
    return folder


def ensure_otter() -> Path:
    otter = OTTER_VENV / "bin" / "otter"
    if not otter.exists():
        print("installing otter-grader into", OTTER_VENV, flush=True)
        subprocess.run(["python3", "-m", "venv", str(OTTER_VENV)], check=True)
        subprocess.run([str(OTTER_VENV / "bin" / "pip"), "install", "-q",
                        "otter-grader>=6,<8", "numpy", "ipykernel"], check=True)
    return otter


def otter_zip(folder: Path) -> Path:
    target = folder / "autograder.zip"
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({}))
        for name, (points, lines) in OTTER_TESTS.items():
            code = "\n".join([*(">>> " + s for s in SETUP.strip().split("\n")), *lines])
            test = {"name": name, "points": points, "suites": [{
                "cases": [{"code": code, "hidden": False, "locked": False}],
                "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
            zf.writestr(f"tests/{name}.py", f"OK_FORMAT = True\n\ntest = {test!r}\n")
    return target


def timed(argv: list[str], timeout: float, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess[str] | None]:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return timeout, None
    return time.perf_counter() - started, done


def otter_score(out: Path) -> float | None:
    try:
        results = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return None
    return sum(t.get("score") or 0 for t in results.get("tests", []))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--otter-timeout", type=float, default=60.0)
    parser.add_argument("--throughput", action="store_true",
                        help="only the 19 non-looping hand-ins at once, forked and not")
    args = parser.parse_args()
    if args.throughput:
        throughput(args.n)
        return
    otter = ensure_otter()
    work = Path(tempfile.mkdtemp(prefix="ag-otter-bench-"))
    hand_ins = generate(work / "submissions", args.n)
    ag_zip = otter_zip(work)
    reference = bench_reference(work / "reference")
    env = {**os.environ, "AUTOGRADER_REFERENCE_DIR": str(reference),
           "AUTOGRADER_DATA_DIR": str(work / "var"), "AUTOGRADER_JOBS_DIR": str(work / "jobs")}
    hangs = {p for p, kind in hand_ins if kind == "gradient_hangs"}

    # 1. one at a time: otter run vs our cold one-shot CLI
    otter_s, ours_s, scores = {}, {}, {}
    for path, kind in hand_ins:
        out = work / "otter-out" / path.stem
        out.mkdir(parents=True)
        otter_s[path], _ = timed([str(otter), "run", "-a", str(ag_zip), "-o", str(out),
                                  "--no-logo", str(path)], args.otter_timeout, cwd=work)
        ours_s[path], done = timed([*AUTOGRADER, "grade", str(path), "-a", "ee411-part1",
                                    "--json"], 600, env=env, cwd=ROOT)
        ours = json.loads(done.stdout)["score"] if done and done.stdout.strip() else None
        scores[path] = (kind, otter_score(out), ours)
        print(f"  {path.name:<40} otter {otter_s[path]:6.2f} s ({scores[path][1]})   "
              f"ours cold {ours_s[path]:6.2f} s ({ours})", flush=True)

    # 2 and 3. the service: 2 workers, warm pool
    (work / "service").mkdir()
    server = LiveServer(work / "service", workers=2, extra_env={
        "AUTOGRADER_REFERENCE_DIR": str(reference)}).start()
    try:
        tokens = [server.add_user(f"s{i}", Role.STUDENT) for i in range(args.n * 3)]
        time.sleep(5)  # the workers' pools fill
        service_s, warm = {}, 0
        for i, (path, _) in enumerate(hand_ins):
            service_s[path], report = submit_and_wait(server, tokens[i], path)
            warm += bool(report["execution"]["warm_kernel"])
            time.sleep(1.0)  # students do not hand in back to back: the pool refills
        burst_s = burst(server, tokens[args.n:2 * args.n], [p for p, _ in hand_ins])
        torch_overheads = torch_notebook(server, tokens[2 * args.n:])
    finally:
        server.stop()  # its workers hold warm kernels

    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(lambda p: timed([str(otter), "run", "-a", str(ag_zip), "--no-logo",
                                       str(p)], args.otter_timeout, cwd=work),
                      [p for p, _ in hand_ins]))
        otter_burst_s = time.perf_counter() - started
    batch_s, _ = timed([*AUTOGRADER, "grade", str(work / "submissions"), "-a", "ee411-part1",
                        "--jobs", "2", "--summary", str(work / "batch.csv")], 1200, env=env,
                       cwd=ROOT)

    def ratio(ours: dict[Path, float], skip: set[Path]) -> str:
        keep = [p for p in ours if p not in skip]
        o, t = median([ours[p] for p in keep]), median([otter_s[p] for p in keep])
        return f"ours {o:.2f} s vs otter {t:.2f} s = {o / t:.2f}x"

    print("\n== results ==")
    print("one-shot CLI (cold) per submission, median:", ratio(ours_s, set()),
          "| without the hanging one:", ratio(ours_s, hangs))
    print("service submit->report per submission, median:", ratio(service_s, set()),
          f"| warm kernels {warm}/{len(hand_ins)}")
    print(f"throughput, 2 in parallel: service {60 * args.n / burst_s:.1f}/min, "
          f"batch CLI --jobs 2 {60 * args.n / batch_s:.1f}/min, "
          f"otter {60 * args.n / otter_burst_s:.1f}/min")
    print(f"torch notebook grading overhead over its own compute, median: "
          f"{median(torch_overheads):.2f} s ({', '.join(f'{x:.2f}' for x in torch_overheads)})")
    agree = sum(1 for kind, a, b in scores.values() if a is not None and b is not None
                and abs(a - b) < 1e-6)
    print(f"scores equal to otter's on {agree}/{len(scores)} hand-ins "
          "(ours also gives partial credit, checks stability and vectorisation)")


def throughput(n: int, rounds: int = 3) -> None:
    work = Path(tempfile.mkdtemp(prefix="ag-throughput-"))
    hand_ins = [p for p, kind in generate(work / "all", n) if kind != "gradient_hangs"]
    folder = work / "submissions"
    folder.mkdir()
    for path in hand_ins:
        (folder / path.name).write_bytes(path.read_bytes())
    reference = bench_reference(work / "reference")
    for fork in ("true", "false"):
        env = {"AUTOGRADER_REFERENCE_DIR": str(reference), "AUTOGRADER_FORK_KERNELS": fork}
        (work / f"service-{fork}").mkdir()
        server = LiveServer(work / f"service-{fork}", workers=2, extra_env=env).start()
        try:
            tokens = [server.add_user(f"s{i}", Role.STUDENT)
                      for i in range(len(hand_ins) * rounds)]
            time.sleep(5)  # the workers' pools fill
            service, warm = [], []
            for r in range(rounds):
                wall, found = burst_warm(
                    server, tokens[r * len(hand_ins):(r + 1) * len(hand_ins)], hand_ins)
                service.append(60 * len(hand_ins) / wall)
                warm.append(found)
                time.sleep(3)  # refilled, as between two classes' deadlines
        finally:
            server.stop()
        batch = []
        for _ in range(rounds):
            wall, _ = timed([*AUTOGRADER, "grade", str(folder), "-a", "ee411-part1",
                             "--jobs", "2"], 1200, env={
                                 **os.environ, **env, "AUTOGRADER_DATA_DIR": str(work / "var"),
                                 "AUTOGRADER_JOBS_DIR": str(work / "jobs")}, cwd=ROOT)
            batch.append(60 * len(hand_ins) / wall)
        print(f"forked kernels {fork}: {len(hand_ins)} hand-ins at once, 2 in parallel: "
              f"service {', '.join(f'{x:.1f}' for x in service)}/min "
              f"(warm kernels {', '.join(map(str, warm))} of {len(hand_ins)}); "
              f"autograder grade --jobs 2 {', '.join(f'{x:.1f}' for x in batch)}/min",
              flush=True)


def submit_and_wait(server: LiveServer, token: str, path: Path,
                    assignment: str = "ee411-part1") -> tuple[float, dict]:
    client = server.client(token)
    started = time.perf_counter()
    response = client.post(f"/assignments/{assignment}/submissions",
                           files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 202, response.text
    sid = response.json()["id"]
    while True:
        body = client.get(f"/submissions/{sid}").json()
        if body["status"] in ("graded", "failed"):
            return time.perf_counter() - started, body.get("report") or {"execution": {
                "warm_kernel": False}}
        time.sleep(0.02)


def burst(server: LiveServer, tokens: list[str], paths: list[Path]) -> float:
    return burst_warm(server, tokens, paths)[0]


def burst_warm(server: LiveServer, tokens: list[str], paths: list[Path]) -> tuple[float, int]:
    """All at once: the wall time, and how many found a warm kernel waiting."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(paths)) as pool:
        done = list(pool.map(lambda a: submit_and_wait(server, *a),
                             zip(tokens, paths, strict=True)))
    warm = sum(bool(report["execution"]["warm_kernel"]) for _, report in done)
    return time.perf_counter() - started, warm


TORCH_NOTEBOOK = [
    "import numpy as np\nimport torch\nfrom torch import nn",
    "torch.manual_seed(0)\nX = torch.randn(512, 20); y = (X[:, 0] > 0).long()\n"
    "model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))\n"
    "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor step in range(200):\n"
    "    opt.zero_grad(); loss = nn.functional.cross_entropy(model(X), y)\n"
    "    loss.backward(); opt.step()\nprint(float(loss))",
]


def torch_notebook(server: LiveServer, tokens: list[str], runs: int = 5) -> list[float]:
    """Grading time of a tiny torch notebook minus the time its own cells took."""
    import nbformat

    from bench.submissions import notebook

    nb = notebook("correct", 99)
    nb.cells[2:2] = [nbformat.v4.new_code_cell(c) for c in TORCH_NOTEBOOK]
    path = Path(tempfile.mkdtemp()) / "torch_student.ipynb"
    nbformat.write(nb, path)
    torch_bench = "ee411-part1-torch"
    with ThreadPoolExecutor(2) as pool:  # one per worker: each asks its pool for torch
        list(pool.map(lambda t: submit_and_wait(server, t, path, torch_bench), tokens[:2]))
    time.sleep(15)
    tokens = tokens[1:]
    overheads = []
    for token in tokens[1:runs + 1]:
        latency, report = submit_and_wait(server, token, path, torch_bench)
        assert report["execution"]["warm_kernel"], "the torch hand-in did not get a warm kernel"
        compute = sum(c.get("duration_s") or 0 for c in report["execution"]["cells"])
        overheads.append(latency - compute)
        time.sleep(8)  # the used torch kernel is replaced before the next hand-in
    return overheads


if __name__ == "__main__":
    main()
