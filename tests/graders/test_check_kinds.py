"""The registry of check kinds: every spec class has exactly one kind with every part,
an unknown kind is refused when an assignment loads, and nothing outside the registry
branches on a check's class."""

from __future__ import annotations

import re
import subprocess
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

from graders.catalog import LoadedAssignment, discover, validate
from graders.checks import KINDS, REGISTRY, kind_of
from graders.checks.base import Planning
from graders.errors import SpecError
from graders.spec import Assignment, Check, Question
from tests.conftest import ROOT

SPEC_CLASSES = typing.get_args(Check)


def test_every_spec_class_has_a_kind_and_every_kind_a_spec_class():
    assert set(SPEC_CLASSES) == set(REGISTRY)
    assert len({k.name for k in KINDS}) == len(KINDS)  # names tell kinds apart in reports


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_kind_has_every_part(kind):
    assert re.fullmatch(r"[a-z_]+", kind.name)
    for part in (kind.label, kind.score, kind.request, kind.validate, kind.hidden_sets):
        assert callable(part), (kind.name, part)
    # a kind that measures on hidden images needs the course data to be graded at all
    if kind.name == "model_accuracy":
        assert kind.needs_data and kind.grades_models


def test_every_bundled_check_is_labelled_validated_and_planned_by_its_kind():
    seen = set()
    for loaded in discover().values():
        planning = Planning(solution=loaded.solution, value_names=(), op_trials=())
        for question in loaded.spec.questions:
            for check in question.checks:
                kind = kind_of(check)
                seen.add(kind.name)
                assert kind.label(check).strip()
                assert kind.validate(check, loaded.solution) is None
                made = kind.request(check, planning)
                assert made is None or isinstance(made[0], dict)
    assert seen == {k.name for k in KINDS}  # every kind is in use by a bundled assignment


@dataclass(frozen=True)
class SpellingCheck:
    """A kind nobody registered."""

    points: float


def test_an_unknown_check_kind_is_refused_when_the_assignment_loads(tmp_path: Path):
    spec = Assignment(id="unknown-kind", title="unknown", questions=(
        Question(id="1", title="spelling", points=1,
                 checks=(SpellingCheck(points=1),)),))  # type: ignore[arg-type]
    loaded = LoadedAssignment(spec=spec, solution=types.ModuleType("solution"),
                              path=tmp_path)
    with pytest.raises(SpecError, match="SpellingCheck is not a known check kind"):
        validate(loaded)


def test_a_wrong_reference_name_is_refused_with_the_question_named(tmp_path: Path):
    from graders.spec import FunctionCheck

    ee411 = discover()["ee411-hw3"]
    check = next(c for q in ee411.spec.questions for c in q.checks
                 if isinstance(c, FunctionCheck))
    renamed = Question(id="9", title="renamed", points=check.points, checks=(
        type(check)(**{**check.__dict__, "reference": "no_such_function"}),))
    loaded = LoadedAssignment(spec=Assignment(id="x", title="x", questions=(renamed,)),
                              solution=ee411.solution, path=tmp_path)
    with pytest.raises(SpecError, match="x 9: the reference solution has no function"):
        validate(loaded)


def test_nothing_outside_the_registry_dispatches_on_a_check_class():
    names = "|".join(sorted(c.__name__ for c in SPEC_CLASSES))
    pattern = rf"isinstance\([^)]*\b({names}|MODEL_CHECKS)\b"
    found = subprocess.run(["git", "grep", "-nE", pattern, "--", "graders", "service"],
                           cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    outside = [line for line in found if not line.startswith("graders/checks/")]
    assert outside == []
