"""Hostile submissions: each is contained, still produces a report, and leaves the host
healthy (no sandbox process survives, grading keeps working)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest

from graders.errors import SandboxUnavailableError
from graders.pipeline.grade import grade_submission
from graders.results import ReportStatus, SandboxVerdict
from graders.sandbox.config import SandboxConfig
from tests.conftest import (
    IS_ROOT,
    NOTEBOOKS,
    ROOT,
    TEST_LIMITS,
    points,
    question,
    sandbox_processes,
)

FULL = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}
pytestmark = pytest.mark.sandbox


def outputs_text(graded) -> str:
    return "".join(
        "".join(o.get("text", "")) if isinstance(o.get("text"), str | list) else ""
        for c in graded.notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def verdicts(graded) -> set[SandboxVerdict]:
    return {e.verdict for e in graded.report.execution.events}


@pytest.fixture(autouse=True)
def host_stays_healthy():
    yield
    assert sandbox_processes() == [], "a sandboxed process outlived its grading"


@pytest.mark.skipif(not IS_ROOT, reason="cgroups need root; rlimits are tested as root too")
def test_fork_bomb_hits_the_process_limit_and_costs_nothing_before_it(grade):
    graded = grade("hostile_fork_bomb.ipynb")
    assert points(graded, FULL) == FULL
    assert SandboxVerdict.PROCESS_LIMIT in verdicts(graded)


@pytest.mark.skipif(not IS_ROOT, reason="the memory cgroup needs root")
def test_memory_bomb_is_killed_out_of_memory(grade):
    graded = grade("hostile_memory_bomb.ipynb")
    assert points(graded, FULL) == FULL
    assert SandboxVerdict.OUT_OF_MEMORY in verdicts(graded)
    assert graded.report.execution.peak_memory_bytes <= TEST_LIMITS.memory_bytes


# Which filesystem holds each folder, as the sandbox sees it. The tests used to compare
# the host disk's free space before and after instead; beside another pytest worker
# writing its fixture data that moved by more than the tolerance.
MOUNTS = ("mounts = {l.split()[4]: l.split(' - ')[1].split()[0] "
          "for l in open('/proc/self/mountinfo')}\n")


def test_disk_fill_stops_at_the_private_size_capped_filesystems(grade):
    nb = nbformat.read(NOTEBOOKS / "ee411_hw3" / "hostile_disk_fill.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        MOUNTS + "print('FS', mounts.get('/home/student'), mounts.get('/tmp'))"))
    graded = grade(nbformat.writes(nb).encode())
    assert points(graded, FULL) == FULL
    text = outputs_text(graded)
    assert "DISK" in text and text.count("OSError") == 2, text[-500:]  # ENOSPC on both
    # in memory and capped, so nothing of the fill reached the host's disk
    assert "FS tmpfs tmpfs" in text, text[-500:]


def test_a_100_mb_stdout_flood_is_capped(grade):
    graded = grade("hostile_stdout_flood.ipynb", output_kill_bytes=16 * 1024 * 1024)
    assert points(graded, FULL) == FULL
    assert SandboxVerdict.OUTPUT_LIMIT in verdicts(graded)
    notebook_bytes = len(nbformat.writes(graded.notebook))
    assert notebook_bytes < 2 * TEST_LIMITS.output_total_bytes
    assert "after the flood" in outputs_text(graded)


def test_killing_the_parent_and_init_is_contained(grade):
    graded = grade("hostile_kill_parent.ipynb")
    assert points(graded, FULL) == FULL
    assert "still alive" in outputs_text(graded)


def test_background_processes_do_not_outlive_the_kernel(grade):
    graded = grade("hostile_background_process.ipynb")
    assert points(graded, FULL) == FULL
    assert "daemons started" in outputs_text(graded)
    # still running when the answers were checked: stopped from the host first (the
    # forking python between its fork and its exit too, when the machine is busy)
    assert any(re.fullmatch(r"the notebook left [23] process\(es\) running \((python, )?"
                            r"sleep\); they were paused while its answers were checked", w)
               for w in graded.report.execution.warnings), graded.report.execution.warnings
    # gone once the sandbox is: its pid namespace's members are killed with its init,
    # which the kernel finishes a moment later (under load, after the grading returned)
    deadline = time.monotonic() + 5
    while (left := _sleeps(b"6113", b"6114")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_the_search_for_leftover_sleeps_finds_one_running_on_the_host():
    import subprocess

    sleeper = subprocess.Popen(["sleep", "6113"])
    try:
        # the child's argv is python's until it has exec'd sleep: under load, a moment
        deadline = time.monotonic() + 5
        while sleeper.pid not in _sleeps(b"6113") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleeper.pid in _sleeps(b"6113") and sleeper.pid not in _sleeps(b"6114")
    finally:
        sleeper.kill()
        sleeper.wait()


def _sleeps(*arguments: bytes) -> list[int]:
    """Processes running ``sleep <argument>``, by their argv: another pytest worker's
    processes may have the digits anywhere in theirs (a port, a random handle)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0] == b"sleep" and argv[1:2] and argv[1] in arguments:
                found.append(int(entry.name))
    return found


@pytest.fixture()
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def test_the_host_is_unreachable_from_inside(grade, listening_port, monkeypatch):
    port, accepted = listening_port
    monkeypatch.setenv("AUTOGRADER_TEST_SECRET", "s3cr3t-token-value")
    reference = ROOT / "reference" / "ee411_hw3" / "solution.py"
    source = (NOTEBOOKS / "ee411_hw3" / "hostile_probe_host.ipynb").read_text()
    source = source.replace("__REFERENCE__", str(reference)).replace("__PORT__", str(port))
    graded = grade(source.encode())
    assert points(graded, FULL) == FULL
    text = outputs_text(graded)
    line = next(x for x in text.splitlines() if x.startswith("PROBE-HOST "))
    report = json.loads(line.removeprefix("PROBE-HOST "))
    for attempt in ("reference", "shadow", "root", "work", "write_usr", "write_root",
                    "loopback", "outside", "vsock", "unshare"):
        assert report[attempt].startswith("BLOCKED"), (attempt, report[attempt])
    # pid 1 inside is bwrap, started with an empty environment
    assert report["environ"] in ("OK: ''", "BLOCKED: PermissionError"), report["environ"]
    assert "s3cr3t-token-value" not in text
    assert "def gradient" not in text  # nothing of the reference leaked into the output
    assert accepted == []


def test_missing_bubblewrap_fails_closed(ee411, tmp_path):
    config = SandboxConfig(python_env=Path(os.sys.prefix), jobs_root=tmp_path,
                           bwrap="bwrap-not-installed")
    data = (NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb").read_bytes()
    with pytest.raises(SandboxUnavailableError, match="refusing to run student code"):
        grade_submission(data, "a.ipynb", assignment=ee411, config=config,
                         limits=TEST_LIMITS)


def test_grading_still_works_after_the_hostile_ones(grade):
    graded = grade("correct_basic.ipynb")
    assert graded.report.status is ReportStatus.GRADED and points(graded, FULL) == FULL


UNDONE = ["input_transformer", "ast_transformer", "run_cell_wrapper", "transform_cell",
          "settrace", "patched_builtins", "silenced_display"]


@pytest.mark.parametrize("kind", UNDONE)
def test_a_notebook_that_changes_the_kernels_machinery_is_undone_graded_and_reported(
        grade, kind):
    graded = grade(f"hostile_tamper_{kind}.ipynb")
    report = graded.report
    assert points(graded, FULL) == FULL, [(q.id, q.feedback) for q in report.questions]
    assert any("changed the grading kernel" in w for w in report.execution.warnings), \
        report.execution.warnings
    assert not any("not defined" in line for q in report.questions for line in q.feedback)


def test_a_notebook_that_silences_the_kernels_publisher_is_reported_as_tampering(grade):
    graded = grade("hostile_tamper_silenced_publisher.ipynb")
    report = graded.report
    assert report.status is ReportStatus.GRADED
    assert any("tampered with the grading kernel" in w for w in report.execution.warnings)
    for qid in FULL:
        q = question(graded, qid)
        assert q.points == 0.0 and "tampered with the grading kernel" in q.feedback[0], \
            (qid, q.feedback)
    assert not any("not defined" in line for q in report.questions for line in q.feedback)


def test_answers_that_hang_again_and_again_cannot_hold_the_worker_past_the_probe_allowance(
        grade):
    # six bindings of gradient(), each hanging past its 2 s call limit; each stops the
    # kernel. The deployment's 6 s total also caps the probe phase, across restarts.
    graded = grade("hostile_slow_bindings.ipynb", total_timeout_s=6)
    execution = graded.report.execution
    assert execution.limits is not None
    assert execution.limits.probe_phase_s == 6
    assert execution.limits.probe_source == "deployment cap"
    assert any("used its whole allowance (6 s)" in w for w in execution.warnings)
    assert execution.kernel_starts < 5  # would restart up to five times otherwise
    assert execution.timings.probes_s < 6 + 2  # one call limit of slack at most
    assert graded.report.status is ReportStatus.GRADED
    assert question(graded, "1.5").points == 0.0


def test_a_notebook_that_speaks_in_the_probes_name_earns_nothing_from_it(grade):
    # it walks the probe's frames for the nonce and sends a loop-free source for its
    # looping gradient() ahead of the probe's own description
    graded = grade("hostile_forged_candidates.ipynb")
    execution = graded.report.execution
    assert execution.tampered
    assert any("sent messages in the grader's name (a second list of definitions)" in w
               for w in execution.warnings)
    assert question(graded, "1.5").points == 0.0


def test_a_giant_message_from_the_kernel_is_refused_unread_and_grading_goes_on(grade):
    nb = nbformat.read(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from IPython.display import display\n"
        "display({'text/plain': 'x' * (100 * 1024 * 1024)}, raw=True)"))
    nb.cells.append(nbformat.v4.new_code_cell("print('still heard')"))
    graded = grade(nbformat.writes(nb).encode())
    assert points(graded, FULL) == FULL
    text = outputs_text(graded)
    assert "[autograder] output refused unread: a message over 16,777,216 bytes" in text
    assert "still heard" in text  # the output channel was connected again



def test_the_kernels_socket_folder_is_a_tiny_tmpfs_of_the_sandboxs_own(grade):
    nb = nbformat.read(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os\n"
        "written = 0\n"
        "try:\n"
        "    with open('/ipc/fill.bin', 'wb') as fh:\n"
        "        for _ in range(256):\n"
        "            fh.write(b'x' * (1 << 20)); fh.flush(); written += 1 << 20\n"
        "except OSError as exc:\n"
        "    print('ipc full after', written, type(exc).__name__)\n"
        "try:\n"
        "    open('/ipc/kernel.json', 'a').write('x')\n"
        "except OSError as exc:\n"
        "    print('connection file', exc.strerror)"))
    nb.cells.append(nbformat.v4.new_code_cell(MOUNTS + "print('FS', mounts.get('/ipc'))"))
    graded = grade(nbformat.writes(nb).encode())
    text = outputs_text(graded)
    assert "ipc full after 0 OSError" in text or "ipc full after 1048576 OSError" in text, text
    assert "connection file Read-only file system" in text, text
    assert "FS tmpfs" in text, text
    assert points(graded, FULL) == FULL  # the kernel still talks through its sockets


def test_answers_sent_in_the_probes_name_make_the_run_tampered(grade):
    graded = grade("hostile_forged_results.ipynb")
    execution = graded.report.execution
    assert execution.tampered
    # the first forgery seen: an answer to a call not in progress
    assert any("sent messages in the grader's name (an answer to" in w and
               "the probe had not asked for" in w for w in execution.warnings), \
        execution.warnings
    assert question(graded, "1.5").points == 0.0


def test_a_shipped_sitecustomize_never_runs_not_even_when_the_kernel_restarts(grade):
    import io
    import zipfile

    nb = nbformat.read(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import builtins\nprint('shadowed:', getattr(builtins, 'SHADOWED', False))"))
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(3)"))  # a restart
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hw3.ipynb", nbformat.writes(nb))
        zf.writestr("sitecustomize.py", "import builtins\nbuiltins.SHADOWED = True\n")
    graded = grade(buf.getvalue(), filename="hw3.zip")
    assert graded.report.execution.kernel_starts == 2
    assert "shadowed: False" in outputs_text(graded)
    assert "shadowed: True" not in outputs_text(graded)
    assert points(graded, FULL) == FULL
