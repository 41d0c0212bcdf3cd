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
from graders.spec import (
    Assignment,
)


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
    loaded = LoadedAssignment(spec=assignment, solution=solution, path=folder)
    validate(loaded)
    return loaded


def validate(loaded: LoadedAssignment) -> None:
    """Check a spec against its solution once, at load: every reference name exists, and
    every reference gradient agrees with finite differences of its loss."""
    from graders.checks import kind_of
    from graders.inputs import plan_calls
    from graders.scoring.function import ReferenceCache, verify_gradient

    spec, solution = loaded.spec, loaded.solution
    if spec.cell_timeout_s > spec.total_timeout_s:
        raise SpecError(f"{spec.id}: a cell may take {spec.cell_timeout_s:g} s, more than "
                        f"the whole submission's {spec.total_timeout_s:g} s")
    for question in spec.questions:
        if question.budget_s is not None and not 0 < question.budget_s <= \
                spec.total_timeout_s:
            raise SpecError(f"{spec.id} {question.id}: a budget of {question.budget_s:g} s "
                            f"does not fit the submission's {spec.total_timeout_s:g} s")
        for check in question.checks:
            problem = kind_of(check).validate(check, solution)
            if problem:
                raise SpecError(f"{spec.id} {question.id}: {problem}")
    if spec.reference_notebook and not (loaded.path / spec.reference_notebook).is_file():
        raise SpecError(f"{spec.id}: reference notebook {spec.reference_notebook} is missing")
    cache = ReferenceCache(solution)
    for call in plan_calls(spec, seed=0):
        check = spec.question(call.question_id).checks[call.check_index]
        # a gradient's reference must be the gradient of its loss
        if getattr(check, "loss", None) and call.case_index == 0 and call.base is None:
            verify_gradient(check, call, cache)  # type: ignore[arg-type]


def grader_data_problems(loaded: LoadedAssignment, *, datasets_dir: Path | None,
                         hidden_dir: Path | None, weights_dir: Path | None = None
                         ) -> list[str]:
    """What this deployment lacks to grade the assignment: datasets the spec names,
    hidden test sets of its accuracy questions. Empty when it can be graded."""
    spec = loaded.spec
    problems = []
    for name in spec.datasets:
        if datasets_dir is None:
            problems.append(f"dataset {name}: no datasets directory is configured")
        elif not (datasets_dir / name).exists():
            problems.append(f"dataset {name} is not installed under {datasets_dir}")
    for name in spec.weights:
        if weights_dir is None or not (weights_dir / name).is_file():
            problems.append(f"pretrained weights {name} are not installed"
                            + ("" if weights_dir else " (no weights directory configured)"))
    from graders.checks import kind_of

    hidden = {data.name for q in spec.questions for c in q.checks
              for data in kind_of(c).hidden_sets(c)}
    for name in sorted(hidden):
        if hidden_dir is None or not (hidden_dir / f"{name}.npz").is_file():
            problems.append(f"hidden test set {name} is not installed"
                            + ("" if hidden_dir else " (no hidden data directory configured)"))
    return problems


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
