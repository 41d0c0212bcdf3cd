"""EE-411 HW3 part 1 graded end to end through the sandbox, one fixture per behaviour."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from graders.results import Outcome, ReportStatus
from tests.conftest import NOTEBOOKS, ROOT, make_notebook, points, question

FULL = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}


def _torch_time(fixture: str) -> dict[str, float]:
    """A cold `import torch` takes 3 s of CPU: beside another test on two cores it runs
    past the 4 s the other tests' cells get."""
    source = (NOTEBOOKS / "ee411_hw3" / fixture).read_text()
    return {"cell_timeout_s": 30} if "import torch" in source else {}

pytestmark = pytest.mark.sandbox


def test_reference_solution_as_notebook_scores_full_marks(grade, ee411):
    source = (ROOT / "reference" / "ee411_hw3" / "solution.py").read_text()
    graded = grade(make_notebook(source))
    report = graded.report
    assert report.status is ReportStatus.GRADED
    assert points(graded, FULL) == FULL and report.score == 28.0
    assert question(graded, "1.4").outcome is Outcome.MANUAL
    # No KMNIST on this grader: part 2's data questions are not graded, and not the
    # student's fault; they count neither for nor against the score.
    assert report.max_score == 28.0
    loaders = question(graded, "2.1")
    assert loaders.outcome is Outcome.UNGRADED and loaders.points == 0
    assert "not a problem with your work" in loaders.feedback[0]
    assert "KMNIST" in loaders.feedback[0]


@pytest.mark.parametrize("fixture", [
    "correct_basic.ipynb",
    "correct_column_vectors.ipynb",
    "correct_module.py",
    "correct_torch.ipynb",
    "redefined_predict.ipynb",
])
def test_correct_submissions_in_every_style_score_full_marks(grade, fixture):
    graded = grade(fixture, **_torch_time(fixture))
    assert points(graded, FULL) == FULL, [q.feedback for q in graded.report.questions]


def test_representation_differences_are_accepted_and_named(grade):
    graded = grade("correct_column_vectors.ipynb")
    feedback = " ".join(question(graded, "1.1").feedback + question(graded, "1.5").feedback)
    assert "where (4,) was expected: accepted" in feedback
    assert "returned a tuple; read in the order of W's keys" in feedback


def test_torch_tensors_are_accepted_and_named(grade):
    feedback = " ".join(question(grade("correct_torch.ipynb", **_torch_time("correct_torch.ipynb")),
                                 "1.5").feedback)
    assert "torch tensor where a numpy array was expected: accepted" in feedback


def test_the_definition_answering_the_question_is_graded_not_the_last_binding(grade):
    graded = grade("redefined_predict.ipynb")
    feedback = " ".join(question(graded, "1.1").feedback)
    assert "defined 2 times" in feedback and "cell 5" in feedback


@pytest.mark.parametrize(("fixture", "qid", "expected", "phrase"), [
    ("wrong_predict.ipynb", "1.1", 0.0, "z_2 differs from the reference solution"),
    ("wrong_logistic_loss.ipynb", "1.2", 0.0, "the loss differs from the reference"),
    ("wrong_stable_loss.ipynb", "1.3", 0.0, "the loss differs from the reference"),
    # the sigmoid's derivative forgotten in w_1's chain: w_2's gradient, right, earns its
    # 0.3 share of the 8 value points
    ("wrong_gradient.ipynb", "1.5", 2.4, "gradient()['w_2'] is right"),
    ("unstable_loss.ipynb", "1.3", 3.0, "contains NaN or infinity"),
    ("loops_gradient.ipynb", "1.5", 10.0, "uses a for loop on line 4"),
    ("summed_gradient.ipynb", "1.5", 4.0, "summed over the batch"),
    # backpropagated through dL/dy_hat: right on ordinary inputs, NaN at logits of 100
    # ("the final implementation should be stable"): the stability check's 2 points
    ("unstable_gradient.ipynb", "1.5", 10.0, "contains NaN or infinity"),
    # right to six digits by scipy's finite differences of the student's own loss: no
    # derivation, no credit (the notebook's text says so, not the kernel)
    ("numeric_gradient_scipy.ipynb", "1.5", 0.0, "estimates the gradient numerically"),
    # the same estimate by hand: the lab's central-difference helper, vectorised
    ("numeric_gradient_by_hand.ipynb", "1.5", 0.0,
     "takes `fp - fm`, a difference of one function at two nearby points"),
    # torch's loss.backward(): the machine's gradient, not the backpropagation asked for
    ("autograd_gradient.ipynb", "1.5", 0.0, "takes the gradient from autograd"),
    ("transposed_predict.ipynb", "1.1", 3.2, "z_1 is transposed"),  # a presentation slip
    # divides by the test data's B = 8, not the input's rows: right on the 8-row case only,
    # which earns nothing (and the style and stability points wait on correct values)
    ("gradient_global_batch.ipynb", "1.5", 0.0, "reads the notebook's global `B` (= 8)"),
    ("wrong_dict_keys.ipynb", "1.5", 0.0, "expected exactly the keys 'w_1', 'w_2'"),
    ("exception_gradient.ipynb", "1.5", 0.0, "raised KeyError: 'W1'"),
    ("syntax_error_cell.ipynb", "1.2", 0.0,
     "`logistic_loss` was never defined: cell 7, which defines it, raised SyntaxError"),
    ("missing_function.ipynb", "1.3", 0.0, "`stable_logistic_loss` is not defined"),
    ("hanging_function.ipynb", "1.5", 0.0, "did not return within 2 s"),
    ("hanging_ignores_alarm.ipynb", "1.5", 0.0, "did not return within 2 s"),
])
def test_each_flaw_costs_exactly_its_question(grade, fixture, qid, expected, phrase):
    graded = grade(fixture, **_torch_time(fixture))
    assert points(graded, FULL) == {**FULL, qid: expected}
    assert phrase in " ".join(question(graded, qid).feedback)


@pytest.mark.parametrize(("fixture", "outcome"), [
    ("exception_gradient.ipynb", Outcome.ERRORED),
    ("missing_function.ipynb", Outcome.MISSING),
    ("hanging_function.ipynb", Outcome.TIMED_OUT),
    ("summed_gradient.ipynb", Outcome.PARTIAL),
    ("wrong_predict.ipynb", Outcome.FAILED),
])
def test_outcomes_name_what_happened(grade, fixture, outcome):
    qid = {"missing_function.ipynb": "1.3", "wrong_predict.ipynb": "1.1"}.get(fixture, "1.5")
    assert question(grade(fixture), qid).outcome is outcome


def test_feedback_never_contains_expected_values(grade, ee411):
    graded = grade("wrong_predict.ipynb")
    from graders.inputs import plan_calls

    call = next(c for c in plan_calls(ee411.spec, graded.report.seed) if c.symbol == "predict")
    z_2 = ee411.solution.predict(*call.fresh_args())[1]
    text = " ".join(line for q in graded.report.questions for line in q.feedback)
    for value in z_2.ravel()[:5]:
        assert f"{value:.3g}" not in text and f"{value:.6f}" not in text


def test_a_function_that_mutates_its_arguments_corrupts_nothing(grade):
    assert points(grade("mutating_predict.ipynb"), FULL) == FULL


def test_a_notebook_whose_names_shadow_builtins_is_graded_in_full_and_not_called_tampered(
        grade):
    # pandas users write ``open = df["Open"]``; ``from re import compile`` is common too:
    # the grader's own cells run in the notebook's namespace and must not call them
    nb = nbformat.reads((NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb").read_text(),
                        as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "open = [101.5, 99.2]\nfrom re import compile\nexec = print"))
    graded = grade(nbformat.writes(nb).encode())
    assert points(graded, FULL) == FULL
    assert not any("tamper" in w for w in graded.report.execution.warnings)


def test_prefilled_outputs_are_dropped_before_execution(grade):
    graded = grade("prefilled_outputs.ipynb")
    text = nbformat.writes(graded.notebook)
    assert "FAKE-OUTPUT" not in text
    assert graded.report.score == 16.0


def test_an_infinite_cell_is_stopped_and_the_rest_is_graded(grade):
    graded = grade("infinite_cell.ipynb")
    assert points(graded, FULL) == FULL
    timed_out = [c for c in graded.report.execution.cells if c.status.value == "timeout"]
    assert [c.index for c in timed_out] == [4]
    assert graded.report.execution.events[0].verdict.value == "cell_timeout"


@pytest.mark.parametrize(("fixture", "detail"), [
    ("exit_later.ipynb", "exit code 3"),
    ("segfault_later.ipynb", "killed by signal 11"),
])
def test_a_kernel_dying_later_costs_nothing_defined_before(grade, fixture, detail):
    graded = grade(fixture)
    assert points(graded, FULL) == FULL
    assert any(detail in e.detail for e in graded.report.execution.events)


def test_executed_notebook_is_kept_with_outputs(grade):
    graded = grade("correct_basic.ipynb")
    outputs = [o for c in graded.notebook.cells if c.cell_type == "code"
               for o in c.get("outputs", [])]
    assert any("nan" in o.get("text", "") for o in outputs)  # the handout's y_hat = 0 case


def test_seed_is_derived_per_submission_and_recorded(grade):
    a = grade("correct_basic.ipynb").report
    b = grade("correct_module.py").report
    assert a.seed is not None and b.seed is not None and a.seed != b.seed
    assert grade("correct_basic.ipynb").report.seed == a.seed


def test_unreadable_upload_is_not_gradable_with_a_reason(grade):
    report = grade(b"{not json", filename="hw.ipynb").report
    assert report.status is ReportStatus.NOT_GRADABLE
    assert "not valid JSON" in (report.reason or "")


def test_fixture_files_match_their_builder():
    """The committed fixtures are what tests/fixtures/build_notebooks.py writes."""
    from tests.fixtures import build_notebooks

    for name, content in build_notebooks.FIXTURES.items():
        path = Path(build_notebooks.HERE) / name
        expected = content if isinstance(content, str) else nbformat.writes(content)
        assert path.read_text() == expected, name
    for name, nb in build_notebooks.PART2.items():
        assert (build_notebooks.HERE / name).read_text() == nbformat.writes(nb), name
    for name, nb in build_notebooks.TUM.items():
        path = build_notebooks.NOTEBOOKS / "tum_ps10" / name
        assert path.read_text() == nbformat.writes(nb), name


def test_the_development_mode_without_a_sandbox_grades_as_the_sandbox_does(
        ee411, sandbox_config, tmp_path):
    """``--unsafe-no-sandbox`` (development only): the kernel finds the grader's files in
    the job's folders where the sandbox would mount them; it once found nothing there
    and scored every function question 0 as "tampered"."""
    import dataclasses

    from graders.pipeline.grade import grade_submission
    from tests.conftest import NOTEBOOKS, TEST_LIMITS

    config = dataclasses.replace(sandbox_config, unsafe_no_sandbox=True,
                                 jobs_root=tmp_path / "jobs")
    path = NOTEBOOKS / "ee411_hw3" / "correct_basic.ipynb"
    graded = grade_submission(path.read_bytes(), path.name, assignment=ee411, config=config,
                              limits=TEST_LIMITS)
    assert not graded.report.execution.tampered
    assert points(graded, FULL) == FULL
    assert any("UNSAFE" in w for w in graded.report.execution.warnings)
