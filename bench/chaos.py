"""Chaos: SIGKILL random Celery workers while a batch is graded; count what was lost or
recorded twice.

A private Redis and PostgreSQL (started here), the API with the Celery dispatcher and
database storage, and W workers in their own folders (nothing shared but the database
and the broker). N submissions go in at once; meanwhile a random worker is killed with
SIGKILL (its whole process group: the Celery parent, its pool child and the sandbox) and
started again, K times. At the end every submission must have exactly one graded result.

    PYTHONPATH=. .venv/bin/python bench/chaos.py --submissions 200 --kills 100

Prints JSON: lost, duplicated, re-executions, lease expiries, wall time, throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

from service.db.models import GradingRun, Role, RunStatus
from service.db.session import make_engine, make_sessionmaker
from service.fixtures import make_fixtures
from tests.conftest import NOTEBOOKS, ROOT
from tests.service.conftest import LiveServer
from tests.service.servers import PostgresServer, RedisServer
from tests.service.test_drills import Worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=411)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    root = Path(tempfile.mkdtemp(prefix="ag-chaos-"))
    root.chmod(0o755)
    data = root / "course"
    make_fixtures(data, kmnist_train=2000)
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    redis = RedisServer().start()
    postgres = PostgresServer(root / "postgres").start()
    shared = {
        "AUTOGRADER_DISPATCHER": "celery", "AUTOGRADER_BROKER_URL": redis.url,
        "AUTOGRADER_DATABASE_URL": postgres.url, "AUTOGRADER_STORAGE": "database",
        "AUTOGRADER_DATASETS_DIR": str(data / "datasets"),
        "AUTOGRADER_LEASE_S": "6", "AUTOGRADER_RESEND_AFTER_S": "4",
        # a run may be killed many times under chaos: attempts must outlast the kills
        "AUTOGRADER_MAX_ATTEMPTS": "1000", "AUTOGRADER_POOL_SIZE": "0",
        "AUTOGRADER_LOG_FORMAT": "json", "AUTOGRADER_CALL_TIMEOUT_S": "10",
    }
    api_dir = root / "api"
    api_dir.mkdir()
    api = LiveServer(api_dir, workers=0, extra_env=shared).start()
    workers = []
    for i in range(args.workers):
        home = root / f"worker-{i}"
        env = {**os.environ, **shared, "AUTOGRADER_DATA_DIR": str(home / "data"),
               "AUTOGRADER_JOBS_DIR": str(home / "jobs")}
        workers.append(Worker(home, env).start())
    client = api.client(api.add_user("chaos", Role.STUDENT))
    upload = (NOTEBOOKS / "ee411_hw3" / "correct_module.py").read_bytes()
    started = time.monotonic()
    ids = [client.post("/assignments/ee411-hw3/submissions",
                       files={"file": ("correct_module.py", upload)}).json()["id"]
           for _ in range(args.submissions)]
    engine = make_engine(postgres.url)
    sessions = make_sessionmaker(engine)

    def graded_count() -> int:
        with sessions() as session:
            return len(set(session.scalars(select(GradingRun.submission_id).where(
                GradingRun.status == RunStatus.GRADED)).all()))

    kills = 0
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        done = graded_count()
        if done >= len(ids):
            break
        if kills < args.kills:
            time.sleep(rng.uniform(0.5, 2.5))
            victim = rng.choice(workers)
            victim.kill()
            kills += 1
            victim.start()
        else:
            time.sleep(1.0)
    wall = time.monotonic() - started

    with sessions() as session:
        runs = list(session.scalars(select(GradingRun)).all())
    graded = Counter(r.submission_id for r in runs if r.status == RunStatus.GRADED)
    lost = [s for s in ids if graded[s] == 0]
    duplicated = [s for s in ids if graded[s] > 1]
    executions = Counter(run_id for w in workers for run_id in w.graded_runs())
    scores = Counter(r.score for r in runs if r.status == RunStatus.GRADED)
    result = {
        "submissions": len(ids), "workers": args.workers, "kills": kills,
        "lost": len(lost), "duplicated": len(duplicated),
        "runs_rows": len(runs), "scores": {str(k): v for k, v in scores.items()},
        "executions": sum(executions.values()),
        "re_executed_runs": sum(1 for n in executions.values() if n > 1),
        "lease_expiries": sum(r.lease_expiries for r in runs),
        "wall_s": round(wall, 1),
        "throughput_per_min": round(60 * (len(ids) - len(lost)) / wall, 1),
    }
    print(json.dumps(result, indent=2))
    metrics = httpx.get(f"{api.url}/metrics").text
    print("\n".join(line for line in metrics.splitlines() if "lease_expiries_total" in line
                    or line.startswith("autograder_queue_runs")))
    engine.dispose()
    for worker in workers:
        worker.stop()
    api.stop()
    redis.stop()
    postgres.stop()
    shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if lost or duplicated else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
