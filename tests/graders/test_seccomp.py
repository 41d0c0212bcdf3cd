"""Every syscall the seccomp filter denies answers EPERM inside the sandbox."""

from __future__ import annotations

import json

import nbformat
import pytest

from tests.conftest import make_notebook

pytestmark = pytest.mark.sandbox

# x86_64 numbers: the calls a notebook has no use for, io_uring first.
SYSCALLS = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "kcmp": 312, "clock_settime": 227, "settimeofday": 164, "pidfd_getfd": 438,
            "fanotify_init": 300, "mount_setattr": 442, "unshare": 272, "bpf": 321,
            "userfaultfd": 323, "perf_event_open": 298, "keyctl": 250}

PROBE = f"""
import ctypes, json, os, platform
libc = ctypes.CDLL(None, use_errno=True)
found = {{}}
if platform.machine() == 'x86_64':
    for name, nr in {SYSCALLS!r}.items():
        ctypes.set_errno(0)
        result = libc.syscall(nr, 0, 0, 0, 0, 0)
        found[name] = (result, ctypes.get_errno())
print('SYSCALLS ' + json.dumps(found))
"""


def test_denied_syscalls_answer_eperm(grade):
    import errno
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("syscall numbers are x86_64's")
    graded = grade(make_notebook(PROBE))
    text = nbformat.writes(graded.notebook)
    found = json.loads(text.split("SYSCALLS ", 1)[1].split("\\n", 1)[0].replace('\\"', '"'))
    assert set(found) == set(SYSCALLS)
    assert {name: tuple(v) for name, v in found.items()} == {
        name: (-1, errno.EPERM) for name in SYSCALLS}
