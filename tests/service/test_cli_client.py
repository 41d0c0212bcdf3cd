"""The `autograder` command as a client of a running service: users add, submit (with
its bounded polling and typed responses), export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import NOTEBOOKS, ROOT

pytestmark = pytest.mark.sandbox


def cli(server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOGRADER_DATA_DIR": str(server.data_dir),
           "AUTOGRADER_SERVER": server.url}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_a_student_submits_from_the_command_line_and_staff_export(server):
    made = cli(server, "users", "add", "cli-student")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    bad_role = cli(server, "users", "add", "x", "--role", "superuser")
    assert bad_role.returncode == 2 and "superuser" in bad_role.stderr
    sent = cli(server, "submit", str(NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb"),
               "-a", "ee411-hw3", "--token", token)
    assert sent.returncode == 0, sent.stderr
    assert "submitted:" in sent.stdout and "Autograded: 28 / 47" in sent.stdout
    staff = cli(server, "users", "add", "cli-prof", "--role", "instructor").stdout.strip()
    csv = cli(server, "export", "-a", "ee411-hw3", "--format", "csv", "--token", staff)
    assert csv.returncode == 0, csv.stderr
    assert "cli-student" in csv.stdout
    wrong = cli(server, "export", "-a", "ee411-hw3", "--format", "xlsx", "--token", staff)
    assert wrong.returncode == 2
