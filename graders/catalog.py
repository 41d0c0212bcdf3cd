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
    FunctionCheck,
    GradientCheck,
    ModelAccuracyCheck,
    OpCheck,
    ValueCheck,
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
    from graders.inputs import plan_calls
    from graders.scoring.function import ReferenceCache, verify_gradient

    spec, solution = loaded.spec, loaded.solution
    for question in spec.questions:
        for check in question.checks:
            if isinstance(check, FunctionCheck) and not callable(
                    getattr(solution, check.reference_name, None)):
                raise SpecError(f"{spec.id} {question.id}: the reference solution has no "
                                f"function {check.reference_name!r}")
            if isinstance(check, OpCheck):
                _verify_op(spec.id, question.id, check, solution)
            if isinstance(check, ValueCheck) and not hasattr(solution, check.reference):
                raise SpecError(f"{spec.id} {question.id}: the reference solution has no "
                                f"answer {check.reference!r}")
            if isinstance(check, GradientCheck) and not callable(
                    getattr(solution, check.loss, None)):
                raise SpecError(f"{spec.id} {question.id}: the reference solution has no "
                                f"loss {check.loss!r}")
    if spec.reference_notebook and not (loaded.path / spec.reference_notebook).is_file():
        raise SpecError(f"{spec.id}: reference notebook {spec.reference_notebook} is missing")
    cache = ReferenceCache(solution)
    for call in plan_calls(spec, seed=0):
        check = spec.question(call.question_id).checks[call.check_index]
        if isinstance(check, GradientCheck) and call.case_index == 0 and call.base is None:
            verify_gradient(check, call, cache)


def _verify_op(assignment_id: str, question_id: str, check: OpCheck,
               solution: ModuleType) -> None:
    """The reference op's backward is the gradient of its forward (central differences)."""
    import numpy as np

    from graders.inputs import op_case
    from graders.scoring.ops import reference_gradients

    where = f"{assignment_id} {question_id}"
    for suffix in ("forward", "backward"):
        if not callable(getattr(solution, f"{check.reference}_{suffix}", None)):
            raise SpecError(f"{where}: the reference solution has no "
                            f"{check.reference}_{suffix}")
    case = op_case(check, solution)
    forward = getattr(solution, f"{check.reference}_forward")
    _, grads = reference_gradients(check, solution)
    for index in check.graded_inputs:
        numeric = np.zeros(case.inputs[index].shape)
        for k in range(numeric.size):
            values = []
            for sign in (1.0, -1.0):
                trial = [x.copy() for x in case.inputs]
                trial[index].reshape(-1)[k] += sign * 1e-6
                values.append(float(np.sum(forward(*trial, **case.kwargs) * case.goutput)))
            numeric.reshape(-1)[k] = (values[0] - values[1]) / 2e-6
        if not np.allclose(grads[index], numeric, rtol=1e-4, atol=1e-6):
            raise SpecError(f"{where}: the reference {check.reference}_backward disagrees "
                            f"with finite differences for input {index + 1}")


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
    hidden = {c.data.name for q in spec.questions for c in q.checks
              if isinstance(c, ModelAccuracyCheck)}
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
