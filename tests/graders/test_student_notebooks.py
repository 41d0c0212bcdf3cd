"""Notebooks written the way real EE-411 students write them, graded end to end through
the sandbox: Colab cells, the course's helper module, (B, 1) labels, drafts and later
redefinitions, their own headings; and answers that are no answers at all."""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from graders import Outcome
from graders.pipeline.grade import grade_submission
from tests.conftest import NOTEBOOKS, TEST_LIMITS, points, question

pytestmark = pytest.mark.sandbox
PART1 = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}


@pytest.fixture(scope="module")
def colab(grade):
    # importing torch and torchsummary takes seconds: a realistic per-cell limit
    return grade("student_colab_column_labels.ipynb", cell_timeout_s=120)


def test_a_colab_notebook_with_column_labels_gets_full_marks_on_part_1(colab):
    assert points(colab, PART1) == PART1, [
        (q.id, q.feedback) for q in colab.report.questions if q.id in PART1]


def test_the_gradient_written_for_column_labels_is_graded_with_them_and_says_so(colab):
    feedback = " ".join(question(colab, "1.5").feedback)
    assert "graded with the labels y as a (B, 1) column" in feedback


def test_no_loops_reads_the_helpers_the_graded_gradient_called(colab):
    # a later cell's torch predict(model, loader) has a for loop; gradient() was graded
    # with the numpy predict it called, and so is its vectorisation
    checks = {c.kind: c for c in question(colab, "1.5").checks}
    assert checks["no_loops"].points == checks["no_loops"].max_points == 2.0
    assert any("helpers it used when it was defined" in line
               for line in question(colab, "1.5").feedback)


def test_colab_cells_run_harmlessly_and_the_course_helpers_import(colab):
    cells = colab.notebook.cells
    text = nbformat.writes(colab.notebook)
    assert "drive.mount('/content/drive') skipped" in text
    assert "not run while grading (no network, no installs): !pip install torchsummary" in text
    assert "%cd /content/drive/MyDrive/EE411/HW3: not available while grading" in text
    helper_cell = next(c for c in cells if "from training_utils import" in c.source)
    assert not [o for o in helper_cell.outputs if o.output_type == "error"], helper_cell.outputs
    errors = [c.source[:60] for c in cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    assert errors == []
    assert colab.report.execution.files == {"training_utils.py": "course"}


def test_a_student_copy_of_the_helper_module_wins_over_the_course_one(grade):
    import io
    import zipfile

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import training_utils\nprint(training_utils.MINE)")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("hw3.ipynb", nbformat.writes(nb))
        zf.writestr("training_utils.py", "MINE = 'the student edited this helper'\n")
    graded = grade(buffer.getvalue(), filename="hw3.zip")
    assert graded.report.execution.files == {"training_utils.py": "submission"}
    assert "the student edited this helper" in nbformat.writes(graded.notebook)


@pytest.mark.parametrize("kind", ["constant", "none", "nan", "liar"])
def test_an_answer_that_is_no_answer_scores_zero_on_every_check_of_part_1(grade, kind):
    graded = grade(f"hostile_{kind}.ipynb")
    for qid in PART1:
        q = question(graded, qid)
        assert q.points == 0.0, (qid, q.feedback)
        assert q.checks and all(c.points == 0.0 for c in q.checks), (qid, q.checks)


def test_a_name_whose_cell_crashed_or_timed_out_says_which_cell_and_why(grade):
    graded = grade("student_crashed_definitions.ipynb")
    predict = question(graded, "1.1")
    assert predict.outcome is Outcome.MISSING
    assert predict.feedback[0].startswith("`predict` was never defined: cell 2, which "
                                          "defines it, raised ModuleNotFoundError")
    loss = question(graded, "1.2")
    assert loss.feedback[0].startswith("`logistic_loss` was never defined: cell 3, which "
                                       "defines it, was stopped")
    assert not any("not defined in your submission" in line
                   for qid in ("1.1", "1.2") for line in question(graded, qid).feedback)


def test_plots_are_found_under_the_students_own_headings(ee411, data_config):
    path = NOTEBOOKS / "ee411_hw3" / "student_own_headings.ipynb"
    graded = grade_submission(path.read_bytes(), path.name, assignment=ee411,
                              config=data_config,
                              limits=dataclasses.replace(TEST_LIMITS, cell_timeout_s=60))
    for qid in ("2.1", "2.2", "2.3"):
        plot = next(c for c in question(graded, qid).checks if c.kind == "plot")
        assert plot.points == plot.max_points == 1.0, (qid, plot.feedback)
        assert "in this question's part of the notebook: found" in plot.feedback[0], \
            plot.feedback


def grade_training(name: str, ee411, data_config):
    """A part-2 notebook that trains for a few steps on the fixture KMNIST."""
    path = NOTEBOOKS / "ee411_hw3" / name
    return grade_submission(path.read_bytes(), path.name, assignment=ee411,
                            config=data_config,
                            limits=dataclasses.replace(TEST_LIMITS, cell_timeout_s=300,
                                                       total_timeout_s=900,
                                                       memory_bytes=3 * 1024**3))


@pytest.mark.slow
def test_each_architecture_question_grades_the_model_that_answers_it(ee411, data_config):
    """MLPs as variables, CNNs only in a dict: the CNN question grades a CNN."""
    graded = grade_training("student_several_models.ipynb", ee411, data_config)
    mlp = next(c for c in question(graded, "2.2").checks if c.kind == "architecture")
    cnn = next(c for c in question(graded, "2.3").checks if c.kind == "architecture")
    assert mlp.points == mlp.max_points, mlp.feedback
    assert cnn.points == cnn.max_points, cnn.feedback
    assert "`cnns['sgd']`" in cnn.feedback[0] or "`cnns['adam']`" in cnn.feedback[0]
    assert "`mlp_sgd`" in mlp.feedback[0] or "`mlp_adam`" in mlp.feedback[0]
    assert question(graded, "2.1").points == question(graded, "2.1").max_points, \
        question(graded, "2.1").feedback


def test_code_written_for_one_sample_is_named(grade):
    graded = grade("student_single_sample.ipynb", cell_timeout_s=60)
    predict = question(graded, "1.1")
    assert 0 < predict.points < predict.max_points
    assert any("right for a single sample (B=1) but not for a batch" in line
               for line in predict.feedback), predict.feedback


@pytest.mark.slow
def test_training_on_test_data_and_a_missing_eval_are_named(ee411, data_config):
    graded = grade_training("student_trains_on_test.ipynb", ee411, data_config)
    feedback = " ".join(question(graded, "2.2").feedback)
    assert "takes optimizer steps on `test_loader`" in feedback
    assert "model.eval() is never called" in feedback


@pytest.mark.parametrize(("source", "named"), [
    ("model.train()\nfit(model)\nacc = evaluate(model)", True),
    ("model.train(mode=False)\nacc = evaluate(model)", False),
    ("model.train(False)\nacc = evaluate(model)", False),
    ("model.eval()\nacc = evaluate(model)", False),
])
def test_evaluation_mode_switched_by_train_false_is_no_missing_eval(source, named):
    """model.train(False) is model.eval() (an unseen hand-in was told it never called
    eval())."""
    from graders.results import CellSummary
    from graders.scoring.models.accuracy import training_mistakes
    from graders.scoring.models.context import ModelContext

    ctx = ModelContext(hidden_dir=None, calibration={}, cells=(
        CellSummary(index=0, kind="code", source=source),))
    arch = {"leaves": [{"name": "drop", "type": "Dropout"}]}
    assert any("model.eval() is never called" in n
               for n in training_mistakes(ctx, arch)) is named
