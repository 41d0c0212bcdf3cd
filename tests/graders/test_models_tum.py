"""Trained-model questions, end to end through the sandbox on fixture data in the real
on-disk formats: TUM problem set 10 (CIFAR-10 cat/dog/ship, an MLP, the best model)."""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from graders.pipeline.grade import grade_submission
from graders.results import Outcome
from graders.runner.kernel_code import MODULE_PREFIX
from tests.conftest import MODEL_LIMITS as LIMITS
from tests.conftest import (
    NOTEBOOKS,
    assert_points,
    cached_grader,
    make_notebook,
    points,
    question,
    reference_calibration,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
FULL = {"2.1": 4.0, "2.2": 4.0, "2.3": 6.0, "2.4": 6.0}


@pytest.fixture(scope="session")
def tum(catalog):
    return catalog["tum-ps10"]


@pytest.fixture(scope="session")
def calibrated(tum, data_config, fixture_data):
    return reference_calibration(tum, data_config, fixture_data)


@pytest.fixture(scope="session")
def grade_tum(tum, data_config, fixture_data, calibrated):
    return cached_grader(tum, data_config, fixture_data, "tum_ps10")


def test_the_reference_notebook_scores_full_marks_and_calibrates(calibrated):
    accuracies, report = calibrated
    # each accuracy, and what an untrained copy of the same network reaches beside it
    assert set(accuracies) == {"2.3:0", "2.4:1", "2.3:0:untrained", "2.4:1:untrained"}
    trained = {k: a for k, a in accuracies.items() if not k.endswith(":untrained")}
    assert all(0.5 < a < 1.0 for a in trained.values()), accuracies  # learnable, not trivial
    assert all(accuracies[f"{k}:untrained"] < a - 0.05 for k, a in trained.items())
    assert report.score == report.max_score == 20.0
    assert report.manual_pending == 6.0


def test_a_correct_notebook_scores_full_marks(grade_tum):
    graded = grade_tum("correct.ipynb")
    assert_points(graded, FULL)
    feedback = " ".join(question(graded, "2.3").feedback)
    assert "held-out test images" in feedback and "per class" in feedback


@pytest.mark.parametrize(("fixture", "qid", "expected", "phrase"), [
    # 3072-256-3 with ReLU: the handout's frame and activation, the hidden width halved
    ("wrong_architecture.ipynb", "2.2", 2.0, "layer 1 is Linear(3072, 256); expected "
                                             "Linear(3072, 512)"),
    ("never_trained.ipynb", "2.3", 0.0, "was the model trained?"),
    # the file holds the untrained network: chance on the notebook's own test set
    ("best_model_not_best.ipynb", "2.4", 2.0, "no better than always answering the most"),
    ("best_state_alias.ipynb", "2.4", 4.0, "holds live references to the model's tensors"),
    # the per-class figures printed beside the false overall one are not credited either
    ("wrong_printed_accuracy.ipynb", "2.4", 4.0, "prints a test accuracy of 99.1%"),
    ("wrong_batch_size.ipynb", "2.1", 4.0 * 2 / 3, "uses batch size 64"),
])
def test_each_flaw_costs_its_question(grade_tum, fixture, qid, expected, phrase):
    graded = grade_tum(fixture)
    got = points(graded)
    assert got[qid] == pytest.approx(expected), question(graded, qid).feedback
    assert phrase in " ".join(question(graded, qid).feedback)
    untouched = {"2.1", "2.2"} - {qid} if fixture == "never_trained.ipynb" else \
        set(FULL) - {qid}
    for other in untouched:
        assert got[other] == FULL[other], (other, question(graded, other).feedback)


def test_no_label_file_is_visible_inside_the_sandbox(tum, data_config, fixture_data,
                                                     calibrated):
    path = NOTEBOOKS / "tum_ps10" / "hostile_label_hunt.ipynb"
    source = path.read_text().replace("__HIDDEN__", str(fixture_data / "hidden"))
    graded = grade_submission(source.encode(), path.name, assignment=tum, config=data_config,
                              limits=LIMITS, hidden_dir=fixture_data / "hidden",
                              calibration=calibrated[0])
    text = "".join("".join(o.get("text", "")) for c in graded.notebook.cells
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    import json

    hunt = json.loads(text.split("HUNT ", 1)[1].splitlines()[0])
    assert hunt["found"] == [] and hunt["hidden_dir"] is False
    # the grader's folder holds the probe plan, label-free image arrays and the probe
    # modules' sources (which the probe cells read; the kernel ran them anyway) only
    assert all(name == "plan.json" or name.endswith(".npy")
               or (name.startswith(MODULE_PREFIX) and name.endswith(".py"))
               for name in hunt["grader"]), hunt["grader"]
    assert any(name.endswith(".npy") for name in hunt["grader"])
    # every array is a batch of uint8 images (N x H x W x C); none is a label vector
    assert hunt["arrays"] and all(v == ["uint8", 4] for v in hunt["arrays"].values())


def test_datasets_load_from_the_usual_roots_with_download_true(grade, tum, data_config,
                                                               fixture_data, calibrated):
    source = make_notebook(
        "import torchvision\nfrom torchvision import datasets, transforms",
        "sizes = {}\n"
        "for root in ['./data', 'data', '../data', '/content/data', './', '~/data']:\n"
        "    import os\n"
        "    ds = datasets.CIFAR10(root=os.path.expanduser(root), train=False, download=True)\n"
        "    sizes[root] = len(ds)\n"
        "print('CIFAR', sizes)",
        "print('MNIST', len(datasets.MNIST('./data', train=True, download=True)))\n"
        "print('KMNIST', len(datasets.KMNIST('data', train=False, download=True)))\n"
        "print('FOLDER', len(datasets.ImageFolder('./data/hymenoptera/train')))",
    )
    graded = grade_submission(source, "load.ipynb", assignment=tum, config=data_config,
                              limits=LIMITS, hidden_dir=fixture_data / "hidden", seed=1,
                              calibration=calibrated[0])
    text = nbformat.writes(graded.notebook)
    assert "'./data': 3350" in text and "'/content/data': 3350" in text and "'./': 3350" in text
    assert "MNIST 6000" in text and "KMNIST 10000" in text and "FOLDER 80" in text
    assert all(c.status.value == "ok" for c in graded.report.execution.cells)


def test_outside_the_sandbox_stock_torchvision_still_verifies_checksums(fixture_data):
    torchvision = pytest.importorskip("torchvision")
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        torchvision.datasets.CIFAR10(str(fixture_data / "datasets"), train=False)


def test_seeds_are_set_and_recorded_so_runs_repeat(tum, data_config, fixture_data, calibrated):
    source = make_notebook("import random, numpy as np, torch",
                           "print('DRAW', random.random(), np.random.rand(), "
                           "torch.rand(1).item())")

    def draw(seed: int) -> str:
        graded = grade_submission(source, "seed.ipynb", assignment=tum, config=data_config,
                                  limits=LIMITS, hidden_dir=fixture_data / "hidden", seed=seed,
                                  calibration=calibrated[0])
        assert graded.report.seed == seed
        text = nbformat.writes(graded.notebook)
        return text.split("DRAW ", 1)[1].split("\\n", 1)[0]

    assert draw(7) == draw(7) != draw(8)


def test_outcomes_of_model_questions(grade_tum):
    graded = grade_tum("never_trained.ipynb")
    assert question(graded, "2.3").outcome is Outcome.FAILED
    assert question(graded, "1").outcome is Outcome.MANUAL


def test_a_question_that_runs_out_of_its_time_budget_says_so(tum, data_config, fixture_data,
                                                             calibrated):
    questions = tuple(dataclasses.replace(q, budget_s=5) if q.id == "2.3" else q
                      for q in tum.spec.questions)
    tight = dataclasses.replace(tum, spec=dataclasses.replace(tum.spec, questions=questions))
    path = NOTEBOOKS / "tum_ps10" / "training_over_budget.ipynb"
    graded = grade_submission(path.read_bytes(), path.name, assignment=tight,
                              config=data_config, limits=LIMITS,
                              hidden_dir=fixture_data / "hidden",
                              calibration=calibrated[0])
    q23 = question(graded, "2.3")
    # the network it could not finish training earns nothing; the optimizer it built as
    # the handout asks keeps its 2 points
    assert q23.outcome is Outcome.TIMED_OUT and q23.points == 2.0
    assert [c.points for c in q23.checks if c.kind == "model_accuracy"] == [0.0]
    assert "time budget of 5 s" in q23.feedback[0]
    got = points(graded)
    assert got["2.1"] == 4.0 and got["2.2"] == 4.0  # the others keep their scores


def test_pretrained_weights_load_from_the_mounted_cache(tum, data_config, fixture_data,
                                                       tmp_path, calibrated):
    torch = pytest.importorskip("torch")
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(torch.nn.Linear(2, 2).state_dict(), weights / "tiny-0123abcd.pth")
    (weights / "tiny-0123abcd.pth").chmod(0o644)
    weights.chmod(0o755)
    config = dataclasses.replace(data_config, weights_dir=weights)
    source = make_notebook(
        "import torch",
        "state = torch.hub.load_state_dict_from_url("
        "'https://download.pytorch.org/models/tiny-0123abcd.pth', progress=False)\n"
        "print('WEIGHTS', sorted(state))")
    graded = grade_submission(source, "weights.ipynb", assignment=tum, config=config,
                              limits=LIMITS, hidden_dir=fixture_data / "hidden", seed=3,
                              calibration=calibrated[0])
    assert "WEIGHTS ['bias', 'weight']" in nbformat.writes(graded.notebook)


def test_model_questions_rescore_from_stored_outputs(grade_tum, tum, fixture_data, calibrated):
    from graders.pipeline.grade import rescore
    from graders.spec import AccuracyBand

    report = grade_tum("never_trained.ipynb").report
    same = rescore(report, tum, hidden_dir=fixture_data / "hidden", calibration=calibrated[0])
    assert same.questions == report.questions
    # a rubric change applies without running anything: points doubled where the network
    # earned them, and a band however lenient still gives an untrained network nothing
    earned = next(q for q in report.questions if q.points > 0 and q.id != "2.3")
    changed_questions = tuple(
        dataclasses.replace(q, points=2 * q.points, checks=tuple(
            dataclasses.replace(c, points=2 * c.points) for c in q.checks))
        if q.id == earned.id else
        dataclasses.replace(q, checks=(dataclasses.replace(
            q.checks[0], band=AccuracyBand(full_within=0.05, zero_within=0.9)),
            *q.checks[1:]))
        if q.id == "2.3" else q for q in tum.spec.questions)
    changed = dataclasses.replace(tum, spec=dataclasses.replace(tum.spec,
                                                                questions=changed_questions))
    new = rescore(report, changed, hidden_dir=fixture_data / "hidden",
                  calibration=calibrated[0])
    assert question_points(new, earned.id) == 2 * earned.points
    # the never-trained network's 2.3 (its optimizer never stepped either): nothing,
    # under any band
    assert question_points(new, "2.3") == question_points(report, "2.3") == 0.0


def question_points(report, qid):
    return next(q.points for q in report.questions if q.id == qid)
