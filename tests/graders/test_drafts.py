"""A name bound more than once: the last version in each part of the notebook answers,
a draft the student rewrote before moving on does not (scored on recorded evidence)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.results import Candidate, Outcome, ProbeRecord, QuestionResult
from graders.scoring.function import ReferenceCache
from graders.scoring.questions import score_question
from graders.spec import FunctionCheck, Normal, Question, Value, cases


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _wrong(z: np.ndarray) -> np.ndarray:
    return np.exp(z) / np.exp(z).sum()  # normalised over the whole batch


CHECK = FunctionCheck(symbol="softmax", points=2, output=Value("the probabilities"),
                      cases=cases((Normal(("B", "K")),), {"B": 4, "K": 3}, {"B": 9, "K": 5}))
QUESTION = Question(id="1.1", title="softmax", points=2, checks=(CHECK,),
                    prompt="Implement softmax over the rows of a batch of logits")
OTHER_PROMPT = "Now write the cross-entropy loss using your softmax"


def _grade(cells: tuple[Any, ...], bindings: list[tuple[int, Callable[..., Any]]],
           questions: tuple[Question, ...] = ()) -> QuestionResult:
    """``bindings``: (cell, function) in the order the notebook bound them."""
    calls = ctl.planned(QUESTION)
    candidates: list[Candidate] = []
    records: list[ProbeRecord] = []
    for index, (cell, work) in enumerate(bindings):
        candidates.append(Candidate(symbol="softmax", index=index, cell=cell))
        records += [r.model_copy(update={"candidate": index})
                    for r in ctl.called(calls, work).values()]
    models = replace(ctl.context(cells=cells), prompts=(QUESTION.prompt, OTHER_PROMPT),
                     questions=questions)
    return score_question(QUESTION, candidates=candidates, calls=calls,
                          records=records,
                          cache=ReferenceCache(ctl.reference(softmax=_softmax)), models=models)


def _notebook(*between: Any) -> tuple[Any, ...]:
    return ctl.notebook(
        ctl.md("## 1.1 Softmax\nImplement softmax over the rows of a batch of logits."),
        ctl.code("import numpy as np"),
        ctl.code("def softmax(z): ...  # 2"),
        *between,
        ctl.code("def softmax(z): ...  # rewritten"),
    )


def test_a_right_draft_rewritten_wrong_in_the_same_part_earns_nothing():
    cells = _notebook(ctl.md("trying a shorter version:"))
    result = _grade(cells, [(2, _softmax), (4, _wrong)])
    assert result.points == 0.0 and result.outcome is Outcome.FAILED
    assert any("is a draft and is not graded (cell 3)" in line for line in result.feedback)


def test_a_wrong_draft_rewritten_right_earns_full_credit():
    result = _grade(_notebook(), [(2, _wrong), (3, _softmax)])
    assert result.points == 2.0


def test_a_name_redefined_under_a_later_heading_keeps_the_first_parts_version():
    cells = _notebook(ctl.md("## 2 Experiments"))
    result = _grade(cells, [(2, _softmax), (4, _wrong)])
    assert result.points == 2.0
    assert any("graded the definition in cell 3" in line for line in result.feedback)


def test_a_later_questions_prompt_without_a_heading_also_starts_a_new_part():
    cells = _notebook(ctl.md("**Question 1.2.** " + OTHER_PROMPT + "."))
    assert _grade(cells, [(2, _softmax), (4, _wrong)]).points == 2.0


def test_a_sub_heading_inside_the_question_does_not_make_the_draft_an_answer():
    # the assignment's questions known: only where a question starts, or a part heading
    # (levels 1-2), begins a new part
    cells = _notebook(ctl.md("#### Final version (cleaned up)"))
    result = _grade(cells, [(2, _softmax), (4, _wrong)], questions=(QUESTION,))
    assert result.points == 0.0


def test_a_part_heading_still_separates_when_the_questions_are_known():
    cells = _notebook(ctl.md("## 2 Experiments"))
    assert _grade(cells, [(2, _softmax), (4, _wrong)], questions=(QUESTION,)).points == 2.0


def test_the_name_rebound_to_the_functions_value_is_no_rewrite_of_it():
    # `softmax = softmax(z)` in the next cell: a value, not a new definition
    calls = ctl.planned(QUESTION)
    records = [r.model_copy(update={"candidate": 0})
               for r in ctl.called(calls, _softmax).values()]
    candidates = [Candidate(symbol="softmax", index=0, cell=2),
                  Candidate(symbol="softmax", index=1, cell=3, kind="not_callable")]
    models = replace(ctl.context(cells=_notebook()), prompts=(QUESTION.prompt,),
                     questions=(QUESTION,))
    result = score_question(QUESTION, candidates=candidates, calls=calls, records=records,
                            cache=ReferenceCache(ctl.reference(softmax=_softmax)),
                            models=models)
    assert result.points == 2.0
