"""Value answers: a number, a count, a shape or a short text that a question asks for.

A TA reads such an answer wherever the student put it, so the grader looks, in order,
at the variables the template names (``names``), at the last expression of the answer
cell under the prompt, and at the prompt's markdown and printed text ("(c) 46*62*20*90 =
5,133,600 multiply-adds"). With ``among`` the answer is one value of a list the student
writes out (an intermediate of a forward trace): any value the answer's cells show may
be it, whatever the student called it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graders.spec.values import Tolerance


class AnswerForm(StrEnum):
    NUMBER = "number"  # a real number, within the tolerance
    COUNT = "count"  # a whole number: 5133600, 5.1336e6, "5,133,600" all count
    SEQUENCE = "sequence"  # a shape or tuple: (46, 62, 20), [46, 62, 20], an array, torch.Size
    TEXT = "text"  # a short string, compared ignoring case, spaces and punctuation


@dataclass(frozen=True)
class ValueCheck:
    points: float
    label: str  # what the answer is, for feedback: "the shape of Z"
    reference: str  # a constant or a zero-argument function in solution.py
    names: tuple[str, ...] = ()  # variables that may hold it, the template's name first
    form: AnswerForm = AnswerForm.NUMBER
    tolerance: Tolerance = Tolerance(rtol=1e-3, atol=1e-6)
    # words a markdown or printed line states the answer with ("multiply", "(c)");
    # the variable names count too
    labels: tuple[str, ...] = ()
    # the sub-question's own prompt (matched fuzzily), when it is not the whole question
    prompt: str | None = None
    among: bool = False
    # worked out, not computed by automatic differentiation: values a cell that calls
    # backward() or autograd.grad() shows or binds are not this answer (a reverse trace)
    by_hand: bool = False
    accept: tuple[Any, ...] = ()  # other answers a TA accepts (another way of counting)
    # the worked steps that lead to this answer (reference names): a value given
    # without any of them shown beside it (a derivative printed as a literal, finite
    # differences' digits) is no trace, and with one shown, the tool that computed its
    # local derivatives (sympy) does not matter
    steps: tuple[str, ...] = ()
    # answers a TA gives part of the credit, each with what it misses: (1800, 0.5, "the
    # 20 biases are not counted") for a parameter count of the weights alone
    partial: tuple[tuple[Any, float, str], ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.labels, *self.names)))
