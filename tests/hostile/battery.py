"""The hostile battery: one case per attack, each a hand-in as a student could send it.

Every case is the correct EE-411 part-1 notebook (or a flawed one, for attacks that try
to raise a score) with the attack in cells after the answers, or files shipped beside it
in a zip. What each case must show is declared with it: the answers elsewhere keep their
points, the attack earns nothing, what the student is told, and what must never appear
(a secret of the host, the reference, hidden labels).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import nbformat

from tests.conftest import NOTEBOOKS

FULL = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}


@dataclass(frozen=True)
class Case:
    name: str
    cells: tuple[str, ...] = ()
    base: str = "correct_basic.ipynb"
    files: dict[str, str] = field(default_factory=dict)  # shipped beside it, in a zip
    # questions that keep the points the base earns without the attack
    keeps: tuple[str, ...] = tuple(FULL)
    # the attack is on a flawed base: no question may score above the honest base
    no_gain: bool = False
    output: tuple[str, ...] = ()  # each must appear in the cells' outputs
    never: tuple[str, ...] = ()  # none may appear in outputs (leaks)
    warning: str | None = None  # must appear in a report warning
    tampered: bool = False

    def submission(self) -> tuple[bytes, str]:
        nb = nbformat.read(NOTEBOOKS / "ee411_hw3" / self.base, as_version=4)
        for source in self.cells:
            nb.cells.append(nbformat.v4.new_code_cell(source))
        data = nbformat.writes(nb).encode()
        if not self.files:
            return data, "hw3.ipynb"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("hw3.ipynb", data)
            for name, text in self.files.items():
                zf.writestr(name, text)
        return buf.getvalue(), "hw3.zip"


def _try(label: str, code: str) -> str:
    """A cell that attempts ``code`` and prints ``label: ok`` or ``label: <error>``."""
    body = "\n".join("    " + line for line in code.splitlines())
    return (f"try:\n{body}\n    print('{label}: ok')\n"
            f"except BaseException as exc:\n    print('{label}:', type(exc).__name__)")


VECTOR_GRADIENT = """\
def _clean(X, y, W):
    return {k: v * 0 for k, v in W.items()}
gradient.__wrapped__ = _clean
"""

CASES = [
    # ---------------------------------------------- the library the probe reports through
    Case("numpy.save replaced", ("import numpy as np\nnp.save = lambda *a, **k: None",)),
    Case("numpy.load replaced", ("import numpy as np\nnp.load = lambda *a, **k: 0",)),
    Case("numpy.asarray replaced",
         ("import numpy as np\nnp.asarray = lambda a, *r, **k: np.zeros(1)",)),
    Case("json.dumps replaced", ("import json\njson.dumps = lambda *a, **k: '{}'",)),
    Case("base64 replaced", ("import base64\nbase64.b64encode = lambda b: b'AAAA'",)),
    Case("IPython display replaced",
         ("import IPython.display as d\nd.display = lambda *a, **k: None",)),
    Case("json module swapped in sys.modules",
         ("import sys, types\nsys.modules['json'] = types.ModuleType('json')",)),
    Case("numpy's random seeding disabled",
         ("import numpy as np\nnp.random.seed = lambda *a, **k: None\n"
          "np.random.default_rng = lambda *a, **k: None",)),
    Case("clocks frozen", ("import time\ntime.time = lambda: 0.0\n"
                           "time.monotonic = lambda: 0.0\ntime.perf_counter = lambda: 0.0",)),
    Case("the alarm signal ignored",
         ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",)),
    Case("stdout and stderr redirected",
         ("import sys, os\nsys.stdout = open(os.devnull, 'w')\n"
          "sys.stderr = open(os.devnull, 'w')",)),
    Case("working directory changed", ("import os\nos.chdir('/')",)),
    Case("recursion limit lowered", ("import sys\nsys.setrecursionlimit(60)",)),
    Case("garbage collector off and memory held",
         ("import gc\ngc.disable()\nkeep = [bytearray(10**6) for _ in range(100)]",)),
    Case("print and open replaced in builtins",
         ("import builtins\nbuiltins.open = None\nbuiltins.print = lambda *a, **k: None",)),
    # ------------------------------------------------------- speaking in the probe's name
    Case("a probe message without the nonce is ignored", (
        "from IPython.display import display\n"
        "display({'application/vnd.ml-autograder.probe+json': {'kind': 'result', "
        "'call_id': '1.5:0:0', 'candidate': 0, 'status': 'ok'}}, raw=True)",)),
    Case("a loop-free __wrapped__ on a looping gradient", (VECTOR_GRADIENT,),
         base="loops_gradient.ipynb", keeps=("1.1", "1.2", "1.3"), no_gain=True),
    Case("inspect.getsource lies for a looping gradient", (
        "import inspect\n_real = inspect.getsource\n"
        "inspect.getsource = lambda obj: 'def gradient(X, y, W):\\n    return W\\n'",),
         base="loops_gradient.ipynb", keeps=("1.1", "1.2", "1.3"), no_gain=True),
    Case("a thread rebinding the graded name during grading", (
        "import threading, time\n"
        "def _swap():\n"
        "    good = gradient\n"
        "    while True:\n"
        "        globals()['gradient'] = good\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=_swap, daemon=True).start()",),
         base="loops_gradient.ipynb", keeps=("1.1", "1.2", "1.3"), no_gain=True),
    Case("the kernel's own messages made malformed", (
        "k = get_ipython().kernel\nk.session.pack = lambda obj: b'[1, 2]'",
        "print('after')")),
    Case("execution replies forged with the kernel's signing key", (
        "k = get_ipython().kernel\n_send = k.session.send\n"
        "def send(stream, msg_or_type, content=None, *a, **kw):\n"
        "    if msg_or_type == 'execute_reply' and isinstance(content, dict):\n"
        "        content = {'status': 'ok', 'execution_count': 1, 'user_expressions': "
        "{'ag': {'status': 'ok', 'data': {'text/plain': 'forged'}}}}\n"
        "    return _send(stream, msg_or_type, content, *a, **kw)\n"
        "k.session.send = send",),
         warning="tampered with the grading kernel; it was left out"),
    Case("numpy swapped in sys.modules", (
        "import sys, types\nsys.modules['numpy'] = types.ModuleType('numpy')",)),
    Case("a profile hook on every call", (
        "import sys\nsys.setprofile(lambda frame, event, arg: None)",)),
    Case("symlinks to host sockets put at the kernel's socket names", (
        "import os\n"
        "for name in os.listdir('/ipc'):\n"
        "    if name.startswith('k-'):\n"
        "        os.rename('/ipc/' + name, '/ipc/old-' + name)\n"
        "        os.symlink('/var/run/postgresql/.s.PGSQL.5432', '/ipc/' + name)",
        "print('still heard after the swap')"),
         output=("still heard after the swap",)),
    # ------------------------------------------------------------------------ the kernel
    Case("SystemExit raised in a cell", ("raise SystemExit(3)", "print('after exit')"),
         output=("after exit",)),
    Case("the kernel's file descriptors closed",
         ("import os\nos.closerange(3, 4096)", "print('not heard')")),
    Case("a thousand sleeping threads", (
        "import threading, time\n"
        "ts = [threading.Thread(target=time.sleep, args=(600,), daemon=True) "
        "for _ in range(1000)]\n"
        + _try("threads", "for t in ts: t.start()"),)),
    Case("the graded function runs in the notebook's own process pool", (
        "import multiprocessing as mp\n"
        "pool = mp.get_context('fork').Pool(2)\n"
        "_predict = predict\n"
        "def predict(X, W):\n"
        "    return pool.apply(_predict, (X, W))",)),
    Case("a tree of sleeping processes", (
        "import subprocess\n"
        + _try("spawn", "ps = [subprocess.Popen(['sleep', '600']) for _ in range(40)]"),),
         warning="they were paused while its answers were checked"),
    Case("a cell that never ends", ("while True:\n    pass", "print('after the loop')"),
         output=("after the loop",)),
    Case("a recursion fifty thousand deep", (
        "import sys\nsys.setrecursionlimit(100_000)\n"
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
        + _try("recursion", "f(50_000)"),)),
    Case("control characters, lone surrogates and a 4 MB line in the output", (
        "print('\\x1b[2J\\x00\\ud800' + 'x' * 4_000_000)", "print('after the line')"),
         output=("after the line",)),
    Case("/dev/shm filled", (
        _try("shm", "with open('/dev/shm/fill', 'wb') as fh:\n"
                    "    for _ in range(2048):\n        fh.write(b'x' * (1 << 20))"),)),
    Case("hard resource limits raised", (
        "import resource\n"
        + _try("cpu", "inf = resource.RLIM_INFINITY\n"
                      "resource.setrlimit(resource.RLIMIT_CPU, (inf, inf))")
        + "\n" + _try("fsize", "inf = resource.RLIM_INFINITY\n"
                               "resource.setrlimit(resource.RLIMIT_FSIZE, (inf, inf))"),),
         never=("cpu: ok", "fsize: ok"), output=("cpu: ValueError", "fsize: ValueError")),
    # ------------------------------------------------------ the host, its disk and secrets
    Case("a hundred thousand files in /tmp", (
        _try("inodes", "for i in range(100_000):\n    open(f'/tmp/f{i}', 'w').close()"),)),
    Case("writes outside the writable places", (
        _try("usr", "open('/usr/pwned', 'w')"),
        _try("env", "open('/opt/grading-env/pwned', 'w')"),
        _try("etc", "open('/etc/passwd', 'a')"),
        _try("datasets", "open('/datasets/pwned', 'w')")),
         output=("usr: OSError", "env: OSError", "etc: PermissionError"),
         never=("usr: ok", "env: ok", "etc: ok", "datasets: ok")),
    Case("looking for the reference and the hidden labels", (
        "import os, time\nfound, seen = [], set()\n"
        "def look(top):\n"
        "    for root, dirs, files in os.walk(top, onerror=lambda e: None):\n"
        "        if root.startswith(('/proc', '/sys', '/dev', '/usr/share')):\n"
        "            dirs[:] = []\n"
        "            continue\n"
        # a folder bound twice (the sandbox's /lib is its /usr/lib) is walked once
        "        st = os.stat(root)\n"
        "        if (st.st_dev, st.st_ino) in seen:\n"
        "            dirs[:] = []\n"
        "            continue\n"
        "        seen.add((st.st_dev, st.st_ino))\n"
        # installed libraries (torch alone is thousands of files): the project is
        # installed editable, so its code is in the repository's tree, which is walked
        "        dirs[:] = [d for d in dirs if d not in ('site-packages', 'dist-packages')]\n"
        "        found.extend(os.path.join(root, f) for f in files\n"
        "                     if f in ('solution.py', 'solution_notebook.py')\n"
        "                     or f.endswith('-hidden.npz') or 'calibration' in root\n"
        "                     or {'ee411_hw3', 'nyu_hw5', 'tum_ps10', 'heidelberg_ex08',\n"
        "                         'vu_dl_a2', 'reference'} & set(root.split('/')[:4]))\n"
        "        yield\n"
        "walk, done = look('/'), False\n"
        "def step(seconds=1.5):\n"
        "    global done\n"
        "    end = time.monotonic() + seconds\n"
        "    for _ in walk:\n"
        "        if time.monotonic() > end:\n"
        "            return\n"
        "    done = True",
        # one walk resumed over several cells, each well inside the cell's time: a system
        # folder of 75,000 files (a cloud SDK under /usr/lib) took 1.7 s to walk alone
        # and ran past the cell's 4 s under the battery's load
        *("step()",) * 24,
        "print('found', len(found), found[:5], 'walked', done)"),
         output=("found 0 [] walked True",)),
    Case("reading the host's secrets", (
        "import os\n"
        "print('env', sorted(k for k in os.environ if 'AUTOGRADER' in k or 'SECRET' in k "
        "or 'TOKEN' in k or 'PASSWORD' in k))",
        _try("shadow", "open('/etc/shadow').read()"),
        _try("root", "os.listdir('/root')"),
        _try("init environ", "open('/proc/1/environ').read()")),
         output=("env []", "shadow: FileNotFoundError")),
    Case("namespaces, mounts and ptrace refused", (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('unshare', libc.unshare(0x10000000), ctypes.get_errno() != 0)\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), "
        "ctypes.get_errno() != 0)\n"
        "print('ptrace', libc.ptrace(16, 1, None, None), ctypes.get_errno() != 0)",),
         output=("unshare -1 True", "mount -1 True", "ptrace -1 True")),
    Case("the network", (
        _try("dns", "import socket\nsocket.getaddrinfo('example.com', 80)"),
        _try("connect", "import socket\nsocket.create_connection(('1.1.1.1', 53), 2)")),
         never=("dns: ok", "connect: ok")),
    # ------------------------------------------------------- files shipped in the hand-in
    Case("a shipped numpy.py, json.py and sitecustomize.py", (
        "import numpy, json\nprint('numpy', hasattr(numpy, 'ndarray'), "
        "'json', hasattr(json, 'dumps'))",),
         files={"numpy.py": "raise SystemExit('shadowed numpy')\n",
                "json.py": "raise SystemExit('shadowed json')\n",
                "sitecustomize.py": "import builtins\nbuiltins.print = None\n"},
         output=("numpy True json True",)),
    Case("a shipped IPython.py and ipykernel.py", (
        "print('still a kernel')",),
         files={"IPython.py": "raise SystemExit('shadowed')\n",
                "ipykernel.py": "raise SystemExit('shadowed')\n"},
         output=("still a kernel",)),
]
