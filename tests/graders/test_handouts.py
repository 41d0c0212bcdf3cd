"""Heidelberg sheet 08 and NYU homework 5, end to end through the sandbox on fixture
data: hand-ins written like real students' (the handout's markdown, Colab cells, group
zips with scanned notes, several models), each flaw costing exactly its question.

Accuracies on fixture data after one short epoch are noisy for the fine-tuned ResNet
and at chance level for a VGG without batch norm, so those accuracy questions are
asserted to be scored (with the accuracy said), and their scorer is pinned down on
replayed probe outputs instead.
"""

from __future__ import annotations

import nbformat
import pytest

from graders import ensure_calibration
from graders.pipeline.grade import grade_submission, rescore
from graders.results import Outcome
from tests.conftest import (
    MODEL_LIMITS,
    assert_points,
    cached_grader,
    make_notebook,
    points,
    question,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

# On the fixture data the reference VGG (3.3) and ResNet (4.4) stay at chance: those
# accuracy checks cannot tell training from none there, so they wait for a calibration
# on the course's data (ungraded, 0 of 0) rather than credit anything; 3.3's plot point
# is graded meanwhile.
HEIDELBERG_FULL = {"1.2": 4.0, "1.3": 3.0, "2": 10.0, "3.1": 4.0, "3.2": 3.0, "3.3": 1.0,
                   "3.4": 3.0}
NYU_FULL = {"2a": 3.0, "2b": 2.0, "2c": 3.0, "2d": 2.0, "4.1": 4.0, "4.2": 3.0, "4.3": 3.0,
            "4.4": 0.0, "4.5": 2.0}
NOISY_ACCURACY = {"nyu-hw5": "4.4"}
AT_CHANCE = "no better than guessing the most common class"


@pytest.fixture(scope="session")
def heidelberg(catalog):
    return catalog["heidelberg-ex08"]


@pytest.fixture(scope="session")
def nyu(catalog):
    return catalog["nyu-hw5"]


@pytest.fixture(scope="session")
def grade_heidelberg(heidelberg, data_config, fixture_data):
    return cached_grader(heidelberg, data_config, fixture_data, "heidelberg_ex08")


@pytest.fixture(scope="session")
def grade_nyu(nyu, data_config, fixture_data):
    return cached_grader(nyu, data_config, fixture_data, "nyu_hw5")


def _without(full: dict[str, float], *noisy: str) -> dict[str, float]:
    return {k: v for k, v in full.items() if k not in noisy}


# ----------------------------------------------------------------- Heidelberg sheet 08
def test_a_later_section_reusing_the_names_keeps_the_mnist_networks_own_transform(
        grade_heidelberg):
    # the CIFAR part rebinds transform/trainset/testset/trainloader/testloader: the MNIST
    # network is still evaluated through its own normalisation (a dataset the notebook
    # held before), not the grader's, and measures what the same network measures in the
    # notebook that kept its names apart
    reused, apart = (grade_heidelberg(n) for n in ("group_names_reused.ipynb",
                                                   "group_correct.ipynb"))
    assert_points(reused, HEIDELBERG_FULL)

    def mnist_accuracy(graded):
        check = next(c for c in question(graded, "2").checks if c.kind == "model_accuracy")
        return check

    check = mnist_accuracy(reused)
    assert not any("the grader's own transform" in line for line in check.feedback)
    # the same network trained from another seed (each hand-in's own): within a point;
    # through the grader's transform (no normalisation) it would fall far below
    assert check.measured is not None and mnist_accuracy(apart).measured is not None
    assert abs(check.measured - mnist_accuracy(apart).measured) < 0.01


def test_a_network_whose_name_a_later_section_reuses_is_graded_as_its_section_left_it(
        grade_heidelberg):
    # `model` is the MNIST MLP, then the VGG: by the end the MLP is bound to no name.
    # Its question grades it as it stood at the end of its section (before the kernel
    # kept it, the VGG answered the MLP question: 2 of its 10 points)
    graded = grade_heidelberg("group_model_reused.ipynb")
    assert_points(graded, HEIDELBERG_FULL)
    mlp = question(graded, "2")
    assert any("`model` as it stood after cell" in line for line in mlp.feedback), mlp.feedback
    # the VGG questions grade the model the name holds now
    assert not any("as it stood" in line for line in question(graded, "3.1").feedback)


def test_a_groups_correct_notebook_scores_full_marks(grade_heidelberg):
    graded = grade_heidelberg("group_correct.ipynb")
    assert_points(graded, HEIDELBERG_FULL)
    accuracy = question(graded, "3.3")
    # the accuracy check waits (its 2 points neither earned nor lost), the plot counts
    waiting = [c for c in accuracy.checks if c.pending]
    assert [c.kind for c in waiting] == ["model_accuracy"]
    assert AT_CHANCE in waiting[0].feedback[0] and accuracy.pending_points == 2.0
    assert accuracy.outcome is Outcome.PASSED and accuracy.points == 1.0
    trace = question(graded, "1.2")
    # read from the group's markdown table, whatever they called the intermediates
    assert all("correct (cell 2)" in line for line in trace.feedback[:6]), trace.feedback
    assert "reaches" in question(graded, "2").feedback[-1]


@pytest.mark.parametrize(("fixture", "expected", "phrases"), [
    # 2: its MLP's optimizer.step() is commented out (only the VGG's optimizer steps);
    # 3.4: batch norm without dropout earns half the architecture (the VGG's layers are
    # 3.1's to grade, not paid again here)
    ("group_flawed_a.ipynb",
     {"1.3": 1.5, "2": 2.5, "3.2": 2.0, "3.4": 2.0},
     {"1.3": "dy/dx2: not among", "2": "never took a step with gradients",
      "3.2": "batch size 64", "3.4": "no dropout"}),
    # the original VGG's FC 4096 costs 3.1 a point, and not 3.4 again; no plot: 3.3's point
    ("ex08-jordan-hinton-lovelace.zip",
     {"1.2": 0.0, "1.3": 0.0, "2": 8.0, "3.1": 3.0, "3.3": 0.0, "3.4": 2.0},
     {"1.2": "includes ex1.pdf", "2": "Adam(lr=0.001)", "3.1": "Linear(512, 4096)",
      "3.3": "looked for at least 1 image(s)", "3.4": "never called"}),
])
def test_each_heidelberg_flaw_costs_its_question(grade_heidelberg, fixture, expected,
                                                  phrases):
    graded = grade_heidelberg(fixture)
    assert_points(graded, {**HEIDELBERG_FULL, **expected})
    for qid, phrase in phrases.items():
        assert any(phrase in line for line in question(graded, qid).feedback), \
            (qid, question(graded, qid).feedback)


def test_a_trace_handed_in_on_paper_is_missing_not_wrong(grade_heidelberg):
    graded = grade_heidelberg("ex08-jordan-hinton-lovelace.zip")
    assert question(graded, "1.2").outcome is Outcome.MISSING
    assert graded.report.execution.files.get("ex1.pdf") == "submission"


def test_the_answer_key_is_in_the_report_for_release(grade_heidelberg):
    graded = grade_heidelberg("group_flawed_a.ipynb")
    check = next(c for c in question(graded, "1.3").checks if c.name == "dy/dx2")
    assert check.points == 0 and check.expected == ["dy/dx2: expected -13.724"]


# ------------------------------------------------------------------------- NYU HW 5
def test_nyu_markdown_answers_and_fine_tuning_score_full_marks(grade_nyu):
    graded = grade_nyu("student_correct.ipynb")
    assert points(graded, NYU_FULL.keys() - {"4.4"}) == _without(NYU_FULL, "4.4")
    accuracy = question(graded, "4.4")
    assert accuracy.outcome is Outcome.UNGRADED and AT_CHANCE in accuracy.feedback[0]
    assert accuracy.checks[0].measured is not None  # what it reached, kept for staff
    # the notebook's Drive path found the mounted ImageFolder, and resnet34(pretrained=True)
    # the mounted checkpoint
    assert "resnet34-b627a593.pth" in question(graded, "4.2").feedback[0]


def test_nyu_answers_in_code_variables_and_last_expressions(grade_nyu):
    graded = grade_nyu("student_code_answers.ipynb")
    assert points(graded, NYU_FULL.keys() - {"4.4"}) == _without(NYU_FULL, "4.4")
    assert "(`Z_shape`)" in question(graded, "2a").feedback[0]
    # `C, M` as the last expression answers "the number of input and output channels"
    assert question(graded, "2b").feedback == [
        "the input channels: correct (the output of cell 5)",
        "the output channels: correct (the output of cell 5)"]
    assert "the output of cell 9" in question(graded, "2d").feedback[0]


@pytest.mark.parametrize(("fixture", "expected", "phrases"), [
    ("student_flawed_a.ipynb", {"2a": 0.0, "2c": 0.0, "4.2": 0.0},
     {"2a": "(48, 64, 20), which is not correct", "2c": "513,360", "4.2": "pretrained"}),
    # 2d: 1,800, the biases left out: half
    ("student_flawed_b.ipynb", {"2b": 0.0, "2d": 1.0, "4.1": 3.0, "4.3": 0.0, "4.5": 0.0},
     {"2b": "gives 20", "2d": "1,800", "4.1": "Linear(512, 256)", "4.3": "SGD(lr=0.001",
      "4.5": "found 0"}),
])
def test_each_nyu_flaw_costs_its_question(grade_nyu, fixture, expected, phrases):
    graded = grade_nyu(fixture)
    assert points(graded, NYU_FULL.keys() - {"4.4"}) == _without({**NYU_FULL, **expected},
                                                                 "4.4")
    for qid, phrase in phrases.items():
        assert any(phrase in line for line in question(graded, qid).feedback), \
            (qid, question(graded, qid).feedback)


def test_nyu_accuracy_waits_at_chance_and_is_scored_against_a_real_calibration(
        grade_nyu, nyu, fixture_data):
    """Replayed: the stored predictions (this hand-in's short fine-tune reaches 60% to 93%
    of the grader's images, depending on the machine that recorded it) wait while the
    reference is at chance on this data, earn full marks against a reference at their
    own level and nothing against one far above."""
    graded = grade_nyu("student_correct.ipynb")
    reached = question(graded, "4.4").checks[0].measured
    # clear of chance (50%) and its margin, or a reference at this level would wait too
    assert reached is not None and reached >= 0.6
    hidden = fixture_data / "hidden"
    at_chance = rescore(graded.report, nyu, hidden_dir=hidden, calibration={"4.4:0": 0.5})
    level = rescore(graded.report, nyu, hidden_dir=hidden, calibration={"4.4:0": reached})
    above = rescore(graded.report, nyu, hidden_dir=hidden,
                    calibration={"4.4:0": reached + 0.4})
    waiting = next(q for q in at_chance.questions if q.id == "4.4")
    assert waiting.outcome is Outcome.UNGRADED
    assert at_chance.max_score == level.max_score - 8.0  # not counted while it waits
    assert _points(level, "4.4") == 8.0
    assert _points(above, "4.4") == 0.0


def _points(report, qid):
    return next(q.points for q in report.questions if q.id == qid)


# ---------------------------------------------------------------- VU DL assignment 2
# the ops the library ships (Exp, MatrixMultiply, Expand, Normalize, Sigmoid) carry no
# points: an empty hand-in would pass them
VU_FULL = {"1-op": 3.0, "9": 6.0, "9b": 4.0}


@pytest.fixture(scope="session")
def grade_vu(catalog, data_config, fixture_data):
    return cached_grader(catalog["vu-dl-a2"], data_config, fixture_data, "vu_dl_a2")


def test_vu_ops_written_in_the_notebook_and_the_retrained_network(grade_vu):
    graded = grade_vu("student_notebook.ipynb")
    assert points(graded) == VU_FULL
    # found under the student's own spellings, and said so
    assert question(graded, "1-op").feedback == [
        "element-wise division: graded `Divide` (the notebook)"]
    assert question(graded, "9").feedback == ["ReLU: graded `Relu` (the notebook)"]
    assert not any(q.id in ("2-op", "3-op", "4-op", "8-op") for q in graded.report.questions)


@pytest.mark.parametrize(("fixture", "expected", "phrases"), [
    # the whole fork zipped: vugrad/ops.py lands over the shipped package
    ("vugrad-master.zip", {"1-op": 0.0, "9": 5.1, "9b": 0.0},
     {"9": "changes its incoming gradient in place", "9b": "no trained network",
      "1-op": "no op found"}),
    # the edited files alone, at the zip's top level; relu() wrapper in functions.py
    ("edited-files.zip", {"1-op": 0.0, "9": 0.0, "9b": 0.0},
     {"9": "`ReLu` (vugrad) forward raised TypeError"}),
    # the single ops.py
    ("ops.py", {"1-op": 0.0, "9": 2.4, "9b": 0.0},
     {"9": "reads context['mask'], which forward never stored (forward stored: x)"}),
])
def test_each_vu_flaw_costs_its_op(grade_vu, fixture, expected, phrases):
    graded = grade_vu(fixture)
    assert points(graded) == {**VU_FULL, **expected}
    for qid, phrase in phrases.items():
        assert any(phrase in line for line in question(graded, qid).feedback), \
            (qid, question(graded, qid).feedback)


def test_vu_library_files_are_laid_over_the_shipped_package(grade_vu):
    files = grade_vu("vugrad-master.zip").report.execution.files
    assert files["vugrad/ops.py"] == "submission"
    assert files["vugrad/core.py"] == "course"
    assert files["experiments/_context.py"] == "submission"
    assert grade_vu("ops.py").report.execution.files["vugrad/ops.py"] == "submission"


def test_vugrad_reads_mnist_from_the_offline_datasets(catalog, data_config, fixture_data):
    graded = grade_submission(
        make_notebook("import vugrad as vg",
                      "(x, y), (xv, yv), classes = vg.load_mnist()\n"
                      "print('MNIST', x.shape, xv.shape, classes, x.max() <= 1.0)"),
        "mnist.ipynb", assignment=catalog["vu-dl-a2"], config=data_config,
        limits=MODEL_LIMITS, hidden_dir=fixture_data / "hidden",
        calibration=ensure_calibration(catalog["vu-dl-a2"], config=data_config,
                                       limits=MODEL_LIMITS, hidden_dir=fixture_data / "hidden"))
    # the fixture MNIST has 6,000 training images: the last 5,000 are the validation set
    assert "MNIST (1000, 784) (5000, 784) 10 True" in nbformat.writes(graded.notebook)


def test_an_op_returning_nodes_instead_of_arrays_is_told_so(grade, catalog):
    """forward must return raw arrays: one that returns a TensorNode fails its own op,
    and every other op is still graded."""
    graded = grade(make_notebook(
        "import numpy as np\nimport vugrad as vg\nfrom vugrad.core import Op",
        "class ReLU(Op):\n"
        "    @staticmethod\n"
        "    def forward(context, x):\n"
        "        return vg.TensorNode(np.maximum(x, 0))\n"
        "    @staticmethod\n"
        "    def backward(context, goutput):\n"
        "        return goutput\n"), assignment=catalog["vu-dl-a2"])
    relu = question(graded, "9")
    assert relu.points == 0.0
    assert "forward returned a TensorNode, not an array" in relu.feedback[0]
    assert question(graded, "1-op").outcome is not Outcome.ERRORED
