"""Value answers, scored from replayed probe outputs and notebook text (no sandbox): the
forms a TA accepts, where the answer is read from, and what feedback says."""

from __future__ import annotations

import types
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from graders.results import CallStatus, CellSummary, CheckResult, ProbeRecord, QuestionResult
from graders.results import Outcome as O
from graders.scoring.answers import matches, parse_number, score_value
from graders.scoring.models import ModelContext
from graders.spec import AnswerForm, Question, Tolerance, ValueCheck

SOLUTION = types.SimpleNamespace(shape=lambda: (46, 62, 20), ops=5_133_600,
                                 channels_in=10, channels_out=20, v2=0.1411200080598672,
                                 params=1_820)
SHAPE = ValueCheck(points=1, label="the shape of Z", reference="shape", names=("Z_shape",),
                   form=AnswerForm.SEQUENCE, labels=("shape",))
OPS = ValueCheck(points=1, label="the multiply-adds", reference="ops", names=("n_ops",),
                 form=AnswerForm.COUNT, labels=("multiply",), accept=(10_267_200,),
                 tolerance=Tolerance(rtol=0.02, atol=0))
CHANNELS_PROMPT = "What are the number of input and output channels?"
IN = ValueCheck(points=1, label="the input channels", reference="channels_in",
                names=("in_channels",), form=AnswerForm.COUNT, labels=("input",),
                prompt=CHANNELS_PROMPT)
OUT = ValueCheck(points=1, label="the output channels", reference="channels_out",
                 names=("out_channels",), form=AnswerForm.COUNT, labels=("output",),
                 prompt=CHANNELS_PROMPT)
TRACE = ValueCheck(points=1, label="v2 = sin(v1)", reference="v2", names=("v2",),
                   tolerance=Tolerance(rtol=5e-3, atol=5e-3), among=True)


def wire(value: Any) -> dict[str, Any]:
    """The kernel's wire format, for the plain values these tests replay."""
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": value}
    if isinstance(value, float):
        return {"t": "float", "v": value}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, tuple | list):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "items": [wire(v) for v in value]}
    return {"t": "dict", "items": [[k, wire(v)] for k, v in value.items()]}


def record(variables=None, scalars=None, outputs=()) -> ProbeRecord:
    return ProbeRecord(call_id="model:0", symbol="values", candidate=0, status=CallStatus.OK,
                       value=wire({"variables": variables or {}, "scalars": scalars or {},
                                   "outputs": [list(o) for o in outputs]}))


def md(index: int, text: str) -> CellSummary:
    heading = text.lstrip("#").strip() if text.startswith("#") else None
    return CellSummary(index=index, kind="markdown", markdown=text, heading=heading,
                       level=text.count("#", 0, 4) if heading else 0)


def code(index: int, source: str = "", text: str = "") -> CellSummary:
    return CellSummary(index=index, kind="code", source=source, text=text)


def score(check: ValueCheck, cells: list[CellSummary], rec: ProbeRecord | None = None,
          question: Question | None = None):
    ctx = ModelContext(hidden_dir=None, calibration={}, cells=cells).for_question(
        question or Question(id="2", title="t", points=check.points, checks=(check,),
                             section=r"problem 2"))
    return score_value(check, rec or record(), ctx, SOLUTION)


@pytest.mark.parametrize("text", ["5133600", "5,133,600", "5.1336e6", "5.1336 x 10^6",
                                  "5.1336 \\times 10^{6}", "5133600."])
def test_a_count_in_any_written_form(text):
    assert parse_number(text) == 5_133_600


@pytest.mark.parametrize("value", [(46, 62, 20), [46, 62, 20], np.array([46, 62, 20]),
                                   "(46, 62, 20)", "46 x 62 x 20", "[46,62,20]"])
def test_a_shape_as_tuple_list_array_or_text(value):
    assert matches(SHAPE, (46, 62, 20), value)


def test_wrong_shapes_and_lengths_do_not_match():
    assert not matches(SHAPE, (46, 62, 20), (62, 46, 20))
    assert not matches(SHAPE, (46, 62, 20), (46, 62))
    assert not matches(SHAPE, (46, 62, 20), 46)


def test_rough_counts_and_the_other_way_of_counting_are_accepted():
    assert matches(OPS, 5_133_600, 5.13e6)
    assert matches(OPS, 5_133_600, "10,267,200")
    assert not matches(OPS, 5_133_600, 513_360)


def test_the_template_variable_is_read_first():
    result = score(SHAPE, [md(0, "## Problem 2")], record(variables={"Z_shape": (46, 62, 20)}))
    assert result.fraction == 1.0 and "(`Z_shape`)" in result.feedback[0]


def test_a_wrong_variable_is_quoted_and_the_key_kept_for_release():
    result = score(SHAPE, [md(0, "## Problem 2")], record(variables={"Z_shape": (48, 64, 20)}))
    assert result.fraction == 0.0
    assert result.feedback[0] == ("the shape of Z: `Z_shape` gives (48, 64, 20), which is "
                                  "not correct")
    assert result.expected == ["the shape of Z: expected (46, 62, 20)"]


def test_a_written_answer_after_an_equals_sign():
    cells = [md(0, "## Problem 2"),
             md(1, "- (c) There are (46\\*62\\*20)\\*(3\\*3\\*10) = 5,133,600 multiply- and "
                   "add- operations.")]
    assert score(OPS, cells).fraction == 1.0


def test_two_answers_in_one_sentence_are_told_apart():
    prompt = md(1, f"(b) {CHANNELS_PROMPT}")
    question = Question(id="2b", title="t", points=2, checks=(IN, OUT))
    right = [md(0, "## Problem 2"), prompt,
             md(2, "**Answer:** 10 input channels and 20 output channels.")]
    swapped = [md(0, "## Problem 2"), prompt,
               md(2, "**Answer:** 20 input channels and 10 output channels.")]
    assert [score(c, right, question=question).fraction for c in (IN, OUT)] == [1.0, 1.0]
    assert [score(c, swapped, question=question).fraction for c in (IN, OUT)] == [0.0, 0.0]


def test_a_tuple_shown_for_two_asked_values_answers_both_in_order():
    question = Question(id="2b", title="t", points=2, checks=(IN, OUT))
    cells = [md(0, f"(b) {CHANNELS_PROMPT}"), code(1, "C, M")]
    rec = record(outputs=[(1, (10, 20))])
    assert [score(c, cells, rec, question).fraction for c in (IN, OUT)] == [1.0, 1.0]


def test_an_unanswered_value_is_missing_and_names_the_template_variable():
    result = score(OPS, [md(0, "## Problem 2"), md(1, "TODO")])
    assert result.fraction == 0.0 and result.fault.value == "missing"
    assert "a variable `n_ops`" in result.feedback[0]


def test_a_trace_value_is_found_among_a_tables_rows_whatever_its_name():
    cells = [md(0, "## 1 Reverse mode"),
             md(1, "| $v_1$ | $v_{-1}/v_0$ | 3.0000 |\n| $w_2$ | $\\sin w_1$ | 0.1411 |")]
    assert score(TRACE, cells).fraction == 1.0


def test_a_trace_value_is_found_in_printed_output_and_computed_variables():
    printed = [md(0, "## 1 Reverse mode"), code(1, "a = 3.0\nb = np.sin(a)\nprint(a, b)",
                                                 text="3.0 0.1411200080598672\n")]
    assert score(TRACE, printed).fraction == 1.0
    computed = [md(0, "## 1 Reverse mode"), code(1, "a = 3.0\nb = np.sin(a)")]
    assert score(TRACE, computed, record(scalars={"b": 0.14112, "x": 7.0})).fraction == 1.0


def test_a_number_in_the_prompts_prose_is_no_trace_value():
    cells = [md(0, "## 1 Reverse mode\nHint: follow table 3 and figure 0.1411 of the paper.")]
    assert score(TRACE, cells).fraction == 0.0


def test_students_see_the_answer_key_only_after_release():
    from graders import GradeReport
    from service.views import student_view

    q = QuestionResult(id="2a", title="t", points=0.0, max_points=1.0, outcome=O.FAILED,
                       checks=[CheckResult(kind="value", name="the shape of Z", points=0.0,
                                           max_points=1.0, expected=["expected (46, 62, 20)"])])
    report = GradeReport(assignment_id="a", assignment_version="1", engine_version="1",
                         status="graded", questions=[q])
    before = student_view(report, hidden_released=False)
    after = student_view(report, hidden_released=True)
    assert before["questions"][0]["checks"][0]["expected"] == []
    assert after["questions"][0]["checks"][0]["expected"] == ["expected (46, 62, 20)"]


def test_a_text_answer_ignores_case_spaces_and_punctuation():
    name = ValueCheck(points=1, label="the activation", reference="x", form=AnswerForm.TEXT,
                      accept=("rectified linear unit",))
    assert matches(name, "ReLU", "relu")
    assert matches(name, "ReLU", " Re-LU. ")
    assert matches(name, "ReLU", "Rectified Linear Unit")
    assert not matches(name, "ReLU", "sigmoid")


def test_a_sub_questions_answer_ends_where_the_next_prompt_begins():
    """(a)'s cells stop at (b)'s prompt: a number written under (b) is no answer to (a)."""
    asks_in = Question(id="2b", title="t", points=1, checks=(
        ValueCheck(points=1, label="the input channels", reference="channels_in",
                   form=AnswerForm.COUNT, labels=("input",)),),
        prompt="What are the number of input channels?")
    cells = [md(0, "(b) What are the number of input channels?\n\n**Answer:** I am not sure"),
             md(1, "(c) How many multiply- and add- operations are required?\n\n"
                   "**Answer:** 10 per input value")]
    ctx = ModelContext(hidden_dir=None, calibration={}, cells=cells,
                       prompts=("What are the number of input channels?",
                                "How many multiply- and add- operations are required?"),
                       question=asks_in)
    assert score_value(asks_in.checks[0], record(), ctx, SOLUTION).fraction == 0.0
    ctx = replace(ctx, prompts=())
    assert score_value(asks_in.checks[0], record(), ctx, SOLUTION).fraction == 1.0


@pytest.mark.parametrize(("written", "credit"), [
    # a draft's comment and the variable it left hold the right count; the answer the
    # student declares is another
    ("**Answer:** 1,800 trainable parameters", 0.0),
    ("so my answer is **5.1 million** multiply-adds", 1.0),  # "rough calculations are OK"
    ("(c) ~~5,133,600~~ the filters run in parallel, so the answer is **256,680**", 0.0),
    ("(c) ~~256,680~~ I forgot the 20 filters: the answer is 5,133,600", 1.0),
    # the declaring sentence ends on its value, after a colon
    ("**Answer:** each of the 46\\*62\\*20 outputs needs 3\\*3\\*10 multiply-adds: 5,133,600.",
     1.0),
    ("**Answer:** each of the 46\\*62\\*20 outputs needs 3\\*3\\*10 multiply-adds: 57,040.",
     0.0),
    ("**Answer:** by the formula of lecture 7", 1.0),
], ids=["declared-wrong", "declared-million", "struck-right", "struck-wrong",
        "declared-at-the-end", "declared-wrong-at-the-end", "declared-no-value"])
def test_the_students_declared_answer_decides_over_drafts_and_sanity_checks(written, credit):
    ops = replace(OPS, tolerance=Tolerance(rtol=0.01, atol=0), accept=(),
                  prompt="How many multiply- and add- operations are required?")
    cells = [md(0, "## Problem 2"), md(1, "(c) How many multiply- and add- operations are "
                                          "required?"),
             code(2, "# first try: 46*62*20*3*3*10 = 5133600\nn_ops = 46*62*20*90\nn_ops",
                  text="5133600"),
             md(3, written)]
    rec = record(variables={"n_ops": 5_133_600}, outputs=[(2, 5_133_600)])
    assert score(ops, cells, rec).fraction == credit


def test_a_prompt_asking_for_an_answer_is_no_declared_answer():
    cells = [md(0, "## Problem 2"), md(1, "Give your answer to 3 significant figures."),
             md(2, "(c) 46\\*62\\*20\\*90 = 5,133,600 multiply-adds")]
    assert score(OPS, cells).fraction == 1.0


SLOPE = ValueCheck(points=1, label="dy/dx1", reference="v2", names=("dy_dx1", "dx1"),
                   tolerance=Tolerance(rtol=5e-3, atol=5e-3), among=True, by_hand=True)
_Y = "def y(x1, x2):\n    return math.sin(x1 / x2)\n"


@pytest.mark.parametrize("source", [
    "y = (torch.sin(v1) + v4) * v4\ny.backward()\ndy_dx1, dy_dx2 = x.grad.tolist()\n"
    "print(f'dy/dx1 = {dy_dx1:.4f}')",
    "from torch.autograd.functional import jacobian\nJ = jacobian(f, x)\ndx1 = float(J[0])\n"
    "print(dx1)",
    _Y + "h = 1e-6\ndx1 = (y(1.5 + h, 0.5) - y(1.5 - h, 0.5)) / (2 * h)\nprint(dx1)",
], ids=["autograd-unpacked", "jacobian", "finite-differences"])
def test_a_derivative_asked_by_hand_is_not_credited_from_a_machines_numbers(source):
    cells = [md(0, "## Problem 2"), code(1, source, text="0.1411")]
    rec = record(scalars={"dy_dx1": 0.14112, "dx1": 0.14112, "dy_dx2": 1.0})
    assert score(SLOPE, cells, rec).fraction == 0.0


def test_the_same_derivative_worked_by_hand_is_credited():
    cells = [md(0, "## Problem 2"),
             md(1, "| adjoint | value |\n|---|---|\n| x1_bar = v1_bar / x2 | 0.1411 |"),
             code(2, _Y + "print(y(1.5, 0.5))", text="0.997")]
    assert score(SLOPE, cells).fraction == 1.0


@pytest.mark.parametrize(("text", "value"), [
    ("0,1411", 0.1411), ("-13,7240", -13.724), ("1,5", 1.5), ("5,133,600", 5_133_600),
    ("1,820", 1820)], ids=["decimal", "negative", "one-digit", "thousands", "one-group"])
def test_a_decimal_comma_is_read_as_written_in_german_and_thousands_stay_thousands(text, value):
    assert parse_number(text) == pytest.approx(value)


def test_a_trace_written_with_decimal_commas_is_credited():
    cells = [md(0, "## Problem 2"), md(1, "| $v_2$ | $\\sin v_1$ | 0,1411 |")]
    assert score(TRACE, cells).fraction == 1.0


def test_a_line_naming_only_the_other_answer_does_not_state_this_one():
    z = ValueCheck(points=1, label="the shape of Z", reference="shape", names=("Z_shape",),
                   form=AnswerForm.SEQUENCE, labels=("shape", "Z"), prompt="shapes of Z and Y?")
    y = replace(z, label="the shape of Y", names=("Y_shape",), labels=("shape", "Y"))
    question = Question(id="2a", title="t", points=2, checks=(z, y))
    cells = [md(0, "(a) What are the shapes of Z and Y?"),
             code(1, "print('Z shape:', Z_shape)\nprint('Y shape:', Y_shape)",
                  text="Z shape: (46, 62, 20)\nY shape: (23, 31, 20)\n")]
    assert [score(c, cells, question=question).fraction for c in (z, y)] == [1.0, 0.0]


def test_a_short_label_binds_only_the_number_beside_it():
    prompt = md(1, f"(b) {CHANNELS_PROMPT}")
    question = Question(id="2b", title="t", points=2, checks=(IN, OUT))
    short_in = replace(IN, labels=("input channels", "in"))
    cells = [md(0, "## Problem 2"), prompt,
             md(2, "The input channels number 20 and the output 10 (10 filters in W).")]
    assert score(short_in, cells, question=question).fraction == 0.0
    assert score(short_in, [md(0, "## Problem 2"), prompt, md(2, "10 in, 20 out")],
                 question=question).fraction == 1.0


@pytest.mark.parametrize("written", [
    "**Solution:** using the formula from lecture 7 (see the variable below)",
    "**Ans:** 5,133,600",
    "**Answer:** 90 multiply-adds per output value; times the 46 x 62 x 20 outputs gives "
    "5,133,600.",
], ids=["no-value-at-once", "ans-in-bold", "concludes-with"])
def test_a_declared_answer_reads_what_the_line_states_not_any_number_on_it(written):
    ops = replace(OPS, prompt="How many multiply- and add- operations are required?")
    cells = [md(0, "## Problem 2"), md(1, "(c) How many multiply- and add- operations are "
                                          "required?"), md(2, written)]
    assert score(ops, cells, record(variables={"n_ops": 5_133_600})).fraction == 1.0


def test_a_leading_zero_makes_a_decimal_comma_and_a_count_never_has_one():
    assert parse_number("0,141") == pytest.approx(0.141)
    assert parse_number("-0,841") == pytest.approx(-0.841)
    prompt = md(1, f"(b) {CHANNELS_PROMPT}")
    question = Question(id="2b", title="t", points=2, checks=(IN, OUT))
    cells = [md(0, "## Problem 2"), prompt, md(2, "input, output channels = 10,20")]
    assert score(IN, cells, question=question).fraction == 1.0


def test_a_preposition_in_the_line_does_not_make_it_the_other_answers():
    out = replace(OUT, names=("C_out",))
    question = Question(id="2b", title="t", points=2, checks=(IN, out))
    cells = [md(0, "## Problem 2"), md(1, f"(b) {CHANNELS_PROMPT}"),
             md(2, "$C_{out} = 20$ (one feature map per filter in the layer)")]
    assert score(out, cells, question=question).fraction == 1.0


@pytest.mark.parametrize("source", [
    _Y + "h = 1e-6\nfp = y(1.5 + h, 0.5)\nfm = y(1.5 - h, 0.5)\ndx1 = (fp - fm) / (2 * h)",
    "from scipy.optimize import approx_fprime\ng = approx_fprime([1.5, 0.5], f, 1e-8)\n"
    "dx1 = g[0]",
    "%matplotlib inline\ny.backward()\ndx1 = x1.grad.item()",
], ids=["quotient-over-names", "approx_fprime", "magic-in-the-cell"])
def test_more_machine_derivatives_are_not_worked_by_hand(source):
    cells = [md(0, "## Problem 2"), code(1, source)]
    assert score(SLOPE, cells, record(scalars={"dx1": 0.14112})).fraction == 0.0


def test_a_name_bound_by_hand_before_a_machine_reuses_it_is_the_students():
    cells = [md(0, "## Problem 2"), code(1, "g = 0.14112\ndx1 = g"),
             code(2, "y.backward()\ng = x1.grad.item()")]
    assert score(SLOPE, cells, record(scalars={"dx1": 0.14112})).fraction == 1.0
    # and a hand-written grad() of the notebook's own is no autograd
    own = [md(0, "## Problem 2"),
           code(1, "def grad(x1, x2):\n    return 0.14112, 1.0\ndx1, dx2 = grad(1.5, 0.5)")]
    assert score(SLOPE, own, record(scalars={"dx1": 0.14112})).fraction == 1.0


def test_a_pair_of_answers_is_read_respectively():
    prompt = md(1, f"(b) {CHANNELS_PROMPT}")
    question = Question(id="2b", title="t", points=2, checks=(IN, OUT))
    cells = [md(0, "## Problem 2"), prompt, md(2, "| (b) input / output channels | 10 / 20 |")]
    assert [score(c, cells, question=question).fraction for c in (IN, OUT)] == [1.0, 1.0]
    swapped = [md(0, "## Problem 2"), prompt, md(2, "| (b) output / input channels | 10 / 20 |")]
    assert [score(c, swapped, question=question).fraction for c in (IN, OUT)] == [0.0, 0.0]


# the ways an unseen round of NYU hand-ins wrote problem 2 (2026-12-07)
def test_a_shape_written_as_a_latex_product_of_dimensions():
    shape = replace(SHAPE, labels=("shape", "Z"))
    cells = [md(0, "## Problem 2"),
             md(1, r"- **a.** $Z \in \mathbb{R}^{46 \times 62 \times 20}$ and "
                   r"$Y \in \mathbb{R}^{46 \times 62 \times 20}$ (no padding: 48-3+1 = 46)")]
    assert score(shape, cells).fraction == 1.0
    wrong = [cells[0], md(1, r"$Z \in \mathbb{R}^{48 \times 64 \times 20}$")]
    assert score(shape, wrong).fraction == 0.0


@pytest.mark.parametrize(("printed", "credit"), [
    ("(b) (input channels, output channels): (10, 20)", [1.0, 1.0]),
    ("(b) (output channels, input channels): (10, 20)", [0.0, 0.0]),
    ("(b) in: 10 out: 20", [1.0, 1.0]),
    ("(b) in: 20 out: 10", [0.0, 0.0]),
], ids=["pair-named-then-given", "pair-swapped", "colons", "colons-swapped"])
def test_two_printed_answers_are_each_read_from_their_own_label(printed, credit):
    short = [replace(IN, labels=("input channels", "input", "in")),
             replace(OUT, labels=("output channels", "output", "out"))]
    question = Question(id="2b", title="t", points=2, checks=tuple(short))
    cells = [md(0, "## Problem 2"), md(1, f"(b) {CHANNELS_PROMPT}"),
             code(2, "print(channels)", text=printed)]
    assert [score(c, cells, question=question).fraction for c in short] == credit


def test_a_number_right_before_a_label_its_colon_follows_is_that_labels():
    """"20 output channels: one per filter (3x3 kernels)": the 20, not the 3 after the
    colon (a review of the colon rule)."""
    short = [replace(IN, labels=("input channels", "input", "in")),
             replace(OUT, labels=("output channels", "output", "out"))]
    question = Question(id="2b", title="t", points=2, checks=tuple(short))
    cells = [md(0, "## Problem 2"), md(1, f"(b) {CHANNELS_PROMPT}"),
             md(2, "10 input channels; 20 output channels: one per filter (3x3 kernels)")]
    assert [score(c, cells, question=question).fraction for c in short] == [1.0, 1.0]


@pytest.mark.parametrize(("written", "credit"), [
    ("3 \\* 3 \\* 10 \\* 20 + 20 = **1820**", 1.0),
    ("3 * 3 * 10 * 20 + 20 = **1820**", 1.0),
    ("There are 1,820.", 1.0),
    ("3 * 3 * 10 * 20 = **1800**", 0.0),
    ("$3 \\cdot 3 \\cdot 10 \\cdot 20 + 20 = 1820$", 1.0),
], ids=["escaped-products", "products", "a-sentence", "wrong", "latex"])
def test_a_line_under_the_prompt_that_names_nothing_gives_its_value(written, credit):
    params = ValueCheck(points=1, label="the trainable parameters", reference="params",
                        form=AnswerForm.COUNT, labels=("parameters",),
                        prompt="What are the total number of trainable parameters in this "
                               "layer?")
    cells = [md(0, "## Problem 2"),
             md(1, f"(d) What are the total number of trainable parameters in this layer?"
                   f"\n\n{written}"), md(2, "## Problem 3")]
    assert score(params, cells).fraction == credit


@pytest.mark.parametrize("written", [
    "$\\underbrace{46 \\cdot 62 \\cdot 20}_{\\text{outputs}} \\cdot 90 \\approx 5.1 \\times "
    "10^{6}$ multiply-add operations",
    "about 5.1 x 10^6 multiply-adds"])
def test_a_count_in_latex_or_powers_of_ten_is_read_as_one_number(written):
    assert score(OPS, [md(0, "## Problem 2"), md(1, f"(c) {written}")]).fraction == 1.0
