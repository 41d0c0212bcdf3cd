"""The code the trusted side sends into the kernel: the probe modules, as source text.

``graders/kernel/`` is never imported here: its files are read as text and compiled
inside the kernel into private module objects, so the student's namespace never holds
them and the trusted process never executes them.
"""

from __future__ import annotations

from pathlib import Path

from graders.boundary import DATASETS_MOUNT, FILES_MOUNT, PROBE_MOUNT

Paths = dict[str, str]  # boundary constants overridden (unsafe mode: host folders)

_GRADERS = Path(__file__).resolve().parent.parent
BOUNDARY_SOURCE = (_GRADERS / "boundary.py").read_text()
PROBE_SOURCE = (_GRADERS / "kernel" / "probe.py").read_text()
PROBE_TORCH_SOURCE = (_GRADERS / "kernel" / "probe_torch.py").read_text()
PROBE_OPS_SOURCE = (_GRADERS / "kernel" / "probe_ops.py").read_text()
ENVIRONMENT_SOURCE = (_GRADERS / "kernel" / "environment.py").read_text()


# The modules' files in the job's probe folder (read-only in the sandbox), by module: the
# cells below read them there. Sending the sources inside the cells made every probe cell
# some 150 kB, which IPython parses, transforms and writes to its history: 25 ms a grading.
MODULE_PREFIX = "ag-module-"
MODULES = {
    "_autograder_boundary": ("boundary.py", "<autograder-boundary>"),
    "_autograder_probe_torch": ("probe_torch.py", "<autograder-probe-torch>"),
    "_autograder_probe_ops": ("probe_ops.py", "<autograder-probe-ops>"),
    "_autograder_probe": ("probe.py", "<autograder-probe>"),
    "_autograder_environment": ("environment.py", "<autograder-environment>"),
}


def _install(name: str, paths: Paths | None) -> str:
    """Lines (inside a function body) that compile the module's file as module ``name``."""
    filename, label = MODULES[name]
    path = f"{_path(paths, 'PROBE_MOUNT', PROBE_MOUNT)}/{MODULE_PREFIX}{filename}"
    return (
        # builtins by name: the cell runs in the notebook's namespace, where a student's
        # ``open = df["Open"]`` or ``from re import compile`` would answer the bare names
        f"    mod = types.ModuleType({name!r})\n"
        f"    with builtins.open({path!r}, encoding='utf-8') as source:\n"
        f"        builtins.exec(builtins.compile(source.read(), {label!r}, 'exec'), "
        f"mod.__dict__)\n"
        f"    sys.modules[{name!r}] = mod\n"
    )


def write_modules(probe: Path, paths: Paths | None) -> None:
    """The probe modules' sources, into the job's probe folder (before its kernel starts)."""
    sources = {"boundary.py": _boundary(paths), "probe_torch.py": PROBE_TORCH_SOURCE,
               "probe_ops.py": PROBE_OPS_SOURCE, "probe.py": PROBE_SOURCE,
               "environment.py": ENVIRONMENT_SOURCE}
    for filename, text in sources.items():
        target = probe / f"{MODULE_PREFIX}{filename}"
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)


def unsafe_paths(job: Path, datasets: Path | None) -> Paths:
    """Where the sandbox's mounts are on the host, for a kernel run without a sandbox
    (development only): the job's own folders in place of /grader, /submission, /datasets
    and the home directory."""
    return {"PROBE_MOUNT": str(job / "probe"), "FILES_MOUNT": str(job / "files"),
            "DATASETS_MOUNT": str(datasets) if datasets else "/nonexistent-datasets",
            "HOME": str(job / "host")}


def _boundary(paths: Paths | None) -> str:
    overrides = "".join(f"\n{key} = {value!r}" for key, value in (paths or {}).items())
    return BOUNDARY_SOURCE + overrides + "\n"


def _path(paths: Paths | None, key: str, default: str) -> str:
    return (paths or {}).get(key, default)


def _modules(paths: Paths | None = None) -> str:
    return "".join(_install(name, paths) for name in (
        "_autograder_boundary", "_autograder_probe_torch", "_autograder_probe_ops",
        "_autograder_probe"))


def bootstrap_code(seed: int, paths: Paths | None = None) -> str:
    """Run once per kernel, before the first cell: probe modules, hooks, files, seeds.

    ``files/`` holds the course's support files with the student's own files over them
    (a student who ships an edited helper gets theirs); both are copied into the home.
    """
    files = _path(paths, "FILES_MOUNT", FILES_MOUNT)
    return (
        "def __ag_boot():\n"
        "    import builtins, sys, types, random\n"
        + _modules(paths)
        + f"    sys.modules['_autograder_probe_torch'].install_hooks({seed}, "
        f"{_path(paths, 'DATASETS_MOUNT', DATASETS_MOUNT)!r})\n"
        + _install("_autograder_environment", paths)
        # numpy before the handed-in files are in reach: a ``numpy.py`` among them must
        # not replace it (a warm kernel imported it before the files arrived, too)
        + "    try:\n"
        "        import numpy\n"
        f"        numpy.random.seed({seed % 2**32})\n"
        "    except Exception:\n"
        "        pass\n"
        "    mod.install()\n"
        "    sys.modules['_autograder_probe'].watch_figures()\n"
        "    import os, shutil\n"
        f"    if os.path.isdir({files!r}):\n"
        f"        shutil.copytree({files!r}, '.', dirs_exist_ok=True)\n"
        "    if '' not in sys.path:\n"
        "        sys.path.insert(0, '')\n"
        # the hand-in's folder by its name too: after Colab's `%cd vugrad` (a clone's
        # folder) '' is that folder, and the hand-in's own modules must stay importable
        "    if os.getcwd() not in sys.path:\n"
        "        sys.path.insert(sys.path.index('') + 1, os.getcwd())\n"
        f"    random.seed({seed})\n"
        "__ag_boot(); del __ag_boot\n"
    )


def snapshot_expression(symbols: tuple[str, ...], cell: int, echo: str) -> str:
    """After each cell, as a ``user_expressions`` entry: a notebook's input transformers
    cannot rewrite it. It answers ``echo`` once the snapshot is taken, so a kernel that
    stopped answering the grader truthfully is caught at the cell that did it."""
    return (f"(__import__('sys').modules['_autograder_probe'].snapshot(globals(), "
            f"{list(symbols)!r}, {cell}), {echo!r})[1]")


def probe_code(nonce: str, skip: list[tuple[str, int]], paths: Paths | None = None) -> str:
    # A fresh copy of the probe modules each time: the student's code may have replaced
    # the ones installed at start-up (it could then only misreport its own answers).
    plan = f"{_path(paths, 'PROBE_MOUNT', PROBE_MOUNT)}/plan.json"
    return (
        "def __ag_probe():\n"
        "    import builtins, sys, types\n"
        + _modules(paths)
        + f"    mod.run({plan!r}, builtins.globals(), {nonce!r}, {skip!r})\n"
        "__ag_probe(); del __ag_probe\n"
    )


def disarm_expression(nonce: str) -> str:
    """Evaluated as a ``user_expressions`` entry, which IPython evaluates directly: input
    transformers a notebook registered never see it. Answers ``nonce:changes``."""
    return (f"__import__('sys').modules['_autograder_environment'].disarm("
            f"__import__('IPython').get_ipython(), {nonce!r})")
