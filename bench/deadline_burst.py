"""Deadline burst and bulk rescore against a real server (uvicorn + worker processes).

    .venv/bin/python bench/deadline_burst.py [--accept 500] [--graded 100]

1. ``--accept`` uploads sent at once (asyncio, one connection each) to a server with no
   workers, then the same number arriving at ``--rate`` per second: accept latency
   p50/p99, the API alone.
2. ``--graded`` uploads sent at once to a server with 1, then 2 workers: accept latency
   and the time until every one is graded.
3. A rescore (``rescore_only`` regrade) of 1,000 stored results: the time the request
   takes, old -> new preview included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.db import repository as repo  # noqa: E402
from service.db.models import GradingRun, Role, RunStatus, RunTrigger  # noqa: E402
from service.db.session import make_engine, make_sessionmaker  # noqa: E402
from tests.service.conftest import LiveServer  # noqa: E402

NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "ee411_hw3" / "correct_basic.ipynb"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def burst(server: LiveServer, tokens: list[str], n: int,
                rate: float | None = None) -> tuple[list[float], list[str]]:
    """n uploads: all at once, or arriving at ``rate`` per second (open loop).

    Each is one HTTP/1.1 request on its own connection, written from bytes made before
    the clock starts: the 800 students' machines are not this one, so the load
    generator must cost next to nothing of the 2 cores the service has (httpx's async
    client cost 8.5 ms of CPU per upload, more than the service)."""
    requests = [_request(server, tokens[i % len(tokens)], f"hw{i}.ipynb", _hand_in(i))
                for i in range(n)]

    async def one(i: int) -> tuple[float, str]:
        if rate:
            await asyncio.sleep(i / rate)
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(requests[i])
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        body = await reader.readexactly(length)
        writer.close()
        status = int(head.split(b" ", 2)[1])
        assert status == 202, (status, body[:300])
        return time.perf_counter() - started, json.loads(body)["id"]

    results = await asyncio.gather(*(one(i) for i in range(n)))
    return [r[0] for r in results], [r[1] for r in results]


def _hand_in(i: int) -> bytes:
    """The notebook as student ``i`` hands it in: bytes of its own (every student's file
    differs, so each upload is stored and recorded as a new blob)."""
    notebook = json.loads(NOTEBOOK.read_bytes())
    notebook.setdefault("metadata", {})["student"] = f"student {i}"
    return json.dumps(notebook, indent=1).encode()


def _request(server: LiveServer, token: str, filename: str, data: bytes) -> bytes:
    boundary = f"bench{os.urandom(8).hex()}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /api/v1/assignments/{ASSIGNMENT}/submissions HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def wait_all(server: LiveServer, started: float) -> float:
    engine = make_engine(server.settings().resolved_database_url)
    sessions = make_sessionmaker(engine)
    while True:
        with sessions.begin() as s:
            depth = repo.queue_depth(s)
        if not depth.get(RunStatus.QUEUED) and not depth.get(RunStatus.RUNNING):
            engine.dispose()
            return time.perf_counter() - started
        time.sleep(0.5)


def cpu_seconds(server: LiveServer) -> tuple[float, float]:
    """User and system CPU the API process has used (``serve`` with no workers)."""
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def lost_and_duplicated(server: LiveServer, ids: list[str], earlier: int = 0) -> str:
    """Every accepted upload stored once, with one queued run (``earlier``: uploads made
    before the burst)."""
    from sqlalchemy import func, select

    from service.db.models import Submission

    engine = make_engine(server.settings().resolved_database_url)
    with make_sessionmaker(engine)() as s:
        stored = set(s.scalars(select(Submission.id)))
        runs = s.scalar(select(func.count()).select_from(GradingRun))
    engine.dispose()
    lost = len(set(ids) - stored)
    duplicated = len(ids) - len(set(ids)) + (len(stored) - earlier - len(set(ids)))
    return (f"{len(ids)} accepted: {lost} lost, {duplicated} duplicated, "
            f"{(runs or 0) - earlier} runs queued")


def report(label: str, latencies: list[float]) -> None:
    print(f"{label}: n={len(latencies)} accept p50={1000 * statistics.median(latencies):.0f} ms"
          f" p99={1000 * pct(latencies, 0.99):.0f} ms max={1000 * max(latencies):.0f} ms")


ASSIGNMENT = "ee411-part1"  # EE-411 part 1 alone: no datasets, nothing to calibrate


def run_server(workers: int) -> LiveServer:
    from bench.otter_compare import bench_reference

    folder = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    reference = bench_reference(folder / "reference")
    (folder / "service").mkdir()
    return LiveServer(folder / "service", workers=workers, extra_env={
        "AUTOGRADER_REFERENCE_DIR": str(reference)}).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accept", type=int, default=500)
    parser.add_argument("--graded", type=int, default=100)
    parser.add_argument("--rescore", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--accept-only", action="store_true")
    args = parser.parse_args()

    server = run_server(0)
    tokens = [server.add_user(f"s{i}", Role.STUDENT) for i in range(50)]
    # one upload first: a server at a deadline has served requests before (the first
    # builds the route's and the statements' caches, once)
    asyncio.run(burst(server, [server.add_user("early", Role.STUDENT)], 1))
    (user, system), client_cpu = cpu_seconds(server), time.process_time()
    latencies, ids = asyncio.run(burst(server, tokens, args.accept))
    after = cpu_seconds(server)
    user, system = after[0] - user, after[1] - system
    client_cpu = time.process_time() - client_cpu
    report(f"accept only (no workers), {args.accept} at once", latencies)
    print(f"    {lost_and_duplicated(server, ids, earlier=1)}; CPU per upload: the service "
          f"{1000 * (user + system) / len(ids):.2f} ms ({1000 * user / len(ids):.2f} user, "
          f"{1000 * system / len(ids):.2f} system), the load generator "
          f"{1000 * client_cpu / len(ids):.2f} ms")
    if args.accept_only:
        server.stop()
        return
    latencies, _ = asyncio.run(burst(server, tokens, args.accept, rate=args.rate))
    report(f"accept only (no workers), {args.accept} arriving at {args.rate:g}/s", latencies)
    server.stop()

    for workers in (1, 2):
        server = run_server(workers)
        tokens = [server.add_user(f"s{i}", Role.STUDENT) for i in range(50)]
        started = time.perf_counter()
        latencies, _ = asyncio.run(burst(server, tokens, args.graded))
        report(f"{workers} worker(s), {args.graded} at once", latencies)
        print(f"    all graded after {wait_all(server, started):.1f} s")
        if workers == 2:
            rescore_bench(server, args.rescore)
        server.stop()


def rescore_bench(server: LiveServer, n: int) -> None:
    """Copy one stored result into n submissions, then time a rescore_only regrade."""
    engine = make_engine(server.settings().resolved_database_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        template = s.query(GradingRun).filter(GradingRun.status == RunStatus.GRADED).first()
        assert template is not None
        sub = template.submission
        user = repo.user_by_name(s, name="s0")
        for i in range(n):
            _, run = repo.create_submission(
                s, assignment_id=sub.assignment_id, user=user, sha256=sub.blob_sha256,
                filename=f"copy{i}.ipynb", idempotency_key=None, late_days=0)
            run.status, run.trigger = RunStatus.GRADED, RunTrigger.SUBMIT
            run.report_json, run.score = template.report_json, template.score
    staff = server.add_user("bench-staff", Role.INSTRUCTOR)
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/api/v1/assignments/{ASSIGNMENT}/regrade",
                          json={"rescore_only": True}, timeout=600,
                          headers={"Authorization": f"Bearer {staff}"})
    elapsed = time.perf_counter() - started
    body = response.json()
    changed = sum(1 for c in body["changes"] if c["old"] != c["new"])
    print(f"rescore of {body['runs']} stored results: {elapsed:.2f} s "
          f"({changed} scores changed, {len(body['errors'])} refused)")
    engine.dispose()


if __name__ == "__main__":
    main()
