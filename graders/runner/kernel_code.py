"""The code the trusted side sends into the kernel: the probe modules, as source text.

``graders/kernel/`` is never imported here: its files are read as text and compiled
inside the kernel into private module objects, so the student's namespace never holds
them and the trusted process never executes them.
"""

from __future__ import annotations

from pathlib import Path

from graders.boundary import DATASETS_MOUNT, FILES_MOUNT, PROBE_MOUNT

_GRADERS = Path(__file__).resolve().parent.parent
BOUNDARY_SOURCE = (_GRADERS / "boundary.py").read_text()
PROBE_SOURCE = (_GRADERS / "kernel" / "probe.py").read_text()
PROBE_TORCH_SOURCE = (_GRADERS / "kernel" / "probe_torch.py").read_text()
PROBE_OPS_SOURCE = (_GRADERS / "kernel" / "probe_ops.py").read_text()
ENVIRONMENT_SOURCE = (_GRADERS / "kernel" / "environment.py").read_text()


def _install(name: str, source: str, label: str) -> str:
    """Lines (inside a function body) that compile ``source`` as module ``name``."""
    return (
        f"    mod = types.ModuleType({name!r})\n"
        f"    exec(compile({source!r}, {label!r}, 'exec'), mod.__dict__)\n"
        f"    sys.modules[{name!r}] = mod\n"
    )


Paths = dict[str, str]  # boundary constants overridden (unsafe mode: host folders)


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
    return (
        _install("_autograder_boundary", _boundary(paths), "<autograder-boundary>")
        + _install("_autograder_probe_torch", PROBE_TORCH_SOURCE, "<autograder-probe-torch>")
        + _install("_autograder_probe_ops", PROBE_OPS_SOURCE, "<autograder-probe-ops>")
        + _install("_autograder_probe", PROBE_SOURCE, "<autograder-probe>")
    )


def bootstrap_code(seed: int, paths: Paths | None = None) -> str:
    """Run once per kernel, before the first cell: probe modules, hooks, files, seeds.

    ``files/`` holds the course's support files with the student's own files over them
    (a student who ships an edited helper gets theirs); both are copied into the home.
    """
    files = _path(paths, "FILES_MOUNT", FILES_MOUNT)
    return (
        "def __ag_boot():\n"
        "    import sys, types, random\n"
        + _modules(paths)
        + f"    sys.modules['_autograder_probe_torch'].install_hooks({seed}, "
        f"{_path(paths, 'DATASETS_MOUNT', DATASETS_MOUNT)!r})\n"
        + _install("_autograder_environment", ENVIRONMENT_SOURCE, "<autograder-environment>")
        # numpy before the handed-in files are in reach: a ``numpy.py`` among them must
        # not replace it (a warm kernel imported it before the files arrived, too)
        + "    try:\n"
        "        import numpy\n"
        f"        numpy.random.seed({seed % 2**32})\n"
        "    except Exception:\n"
        "        pass\n"
        "    mod.install()\n"
        "    import os, shutil\n"
        f"    if os.path.isdir({files!r}):\n"
        f"        shutil.copytree({files!r}, '.', dirs_exist_ok=True)\n"
        "    if '' not in sys.path:\n"
        "        sys.path.insert(0, '')\n"
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
        "    import sys, types\n"
        + _modules(paths)
        + f"    mod.run({plan!r}, globals(), {nonce!r}, {skip!r})\n"
        "__ag_probe(); del __ag_probe\n"
    )


def disarm_expression(nonce: str) -> str:
    """Evaluated as a ``user_expressions`` entry, which IPython evaluates directly: input
    transformers a notebook registered never see it. Answers ``nonce:changes``."""
    return (f"__import__('sys').modules['_autograder_environment'].disarm("
            f"__import__('IPython').get_ipython(), {nonce!r})")
