"""Find and load assignments: one folder per assignment under ``reference/``.

Each folder holds ``spec.py`` (defining ``ASSIGNMENT``) and ``solution.py``. Both are
trusted code; they are imported here, in the grader's process, and never reach a sandbox.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from graders.errors import SpecError
from graders.spec import Assignment


@dataclass(frozen=True)
class LoadedAssignment:
    spec: Assignment
    solution: ModuleType
    path: Path

    @property
    def id(self) -> str:
        return self.spec.id


def default_root() -> Path:
    import reference

    return Path(reference.__file__).parent


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_assignment(folder: Path) -> LoadedAssignment:
    tag = folder.name
    spec_module = _import(folder / "spec.py", f"_autograder_reference_{tag}_spec")
    assignment = getattr(spec_module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise SpecError(f"{folder / 'spec.py'} does not define ASSIGNMENT = Assignment(...)")
    solution = _import(folder / "solution.py", f"_autograder_reference_{tag}_solution")
    return LoadedAssignment(spec=assignment, solution=solution, path=folder)


def discover(root: Path | None = None) -> dict[str, LoadedAssignment]:
    """Every assignment under ``root`` (default: the bundled ``reference/``), by id."""
    root = root or default_root()
    found: dict[str, LoadedAssignment] = {}
    for folder in sorted(p for p in root.iterdir() if (p / "spec.py").is_file()):
        loaded = load_assignment(folder)
        if loaded.id in found:
            raise SpecError(f"two assignments have the id {loaded.id!r}")
        found[loaded.id] = loaded
    return found
