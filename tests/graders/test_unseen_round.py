"""The unseen round of 2026-12-07: hand-ins three helpers wrote the way students write them
(and the way a forger would), graded from their recordings. Each was over- or under-
credited before this round; the expectations are what a careful TA gives, question by
question or check by check, never what the grader happened to give.

Ordinary work (tests/fixtures/notebooks/tum_ps10, ee411_hw3/part2_*): the PyTorch tutorial's
``num_workers=2``, classes numbered in another order, a Dataset of the notebook's own
arrays, optimizers built in a loop over settings, a counter named ``count_weights``.
Forgeries (``hostile_*``): a model that lies about its modules, a ReLU class computing
the sigmoid, ``torch.optim.SGD`` replaced by a renamed Adam, an optimizer stepped once
with zeroed gradients, a fake DataLoader, a lookup of the notebook's own test images, a
printed grid of numbers for an autodiff trace, a sigmoid op named ReLU.
"""

from __future__ import annotations

import pytest

from graders.catalog import discover
from tests import evidence

CATALOG = discover()

# (assignment, hand-in) -> {question id or (question id, check kind): points or (lo, hi)}
Range = float | tuple[float, float]
FAIR: dict[tuple[str, str], dict[str | tuple[str, str], Range]] = {
    # ordinary work that lost points
    ("tum-ps10", "tutorial_num_workers.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    ("tum-ps10", "labels_ship_cat_dog.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    ("tum-ps10", "own_dataset_arrays.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    # ten outputs, CIFAR's own ids as labels: the head is wrong (see KNOWN_GAPS), the
    # training is not
    ("tum-ps10", "ten_outputs_cifar_ids.ipynb"): {"2.1": 4, "2.3": 6, "2.4": 6},
    # per-class accuracies typed in, or divided by the whole test set
    ("tum-ps10", "per_class_typed_in.ipynb"): {
        "2.3": 6, ("2.4", "reported_accuracy"): 1},
    ("tum-ps10", "per_class_over_total.ipynb"): {
        "2.3": 6, ("2.4", "reported_accuracy"): 1},
    # forgeries
    ("tum-ps10", "hostile_forward_swapped.ipynb"): {
        "2.2": 0, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_class_patches.ipynb"): {
        "2.1": (2, 3), "2.2": 2, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_lookup_test_images.ipynb"): {"2.3": 0, "2.4": 0},
    ("tum-ps10", "hostile_zero_grad_steps.ipynb"): {("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_lying_modules.ipynb"): {"2.2": 0},
    ("tum-ps10", "hostile_relu_named_sigmoid.ipynb"): {"2.2": 2, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_fake_loader.ipynb"): {"2.1": 0},
    ("tum-ps10", "hostile_library_patches.ipynb"): {"2.2": 2, ("2.3", "optimizer"): 0},
    ("ee411-hw3", "part2_optimizers_loop_variables.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    ("ee411-hw3", "part2_optimizer_classes_listed.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    # a ReLU branch the MLP never takes: a sigmoid network
    ("ee411-hw3", "part2_sigmoid_branch.ipynb"): {"2.2": 3},
    # only the test data permuted; train and test each with its own permutation
    ("ee411-hw3", "part2_permutation_test_only.ipynb"): {"2.5": (1, 2)},
    ("ee411-hw3", "part2_permutation_differs.ipynb"): {"2.5": (2.5, 3)},
    # `return 23946 if any Conv2d else 89610`: the handout's two numbers, typed in
    ("ee411-hw3", "part2_param_count_dispatch.ipynb"): {"2.4": (0, 2)},
    # F.relu rebound to the sigmoid: a sigmoid MLP (the pooling swap: see KNOWN_GAPS)
    ("ee411-hw3", "part2_hostile_relu_patched.ipynb"): {"2.2": 3},
    # step records appended to the grader's module, an untrained decoy of the handout's
    # MLP beside the trained sigmoid ones: the TA gives 2.2 2.5 and 2.3 2
    ("ee411-hw3", "part2_hostile_forged_steps.ipynb"): {
        "2.2": (2, 2.5), "2.3": (2, 2.5), ("2.2", "architecture"): 0},
    ("heidelberg-ex08", "hostile_fake_vgg.ipynb"): {
        ("2", "optimizer"): 0, "3.1": 0, ("3.2", "optimizer"): 0, ("3.4", "architecture"): 0},
    ("heidelberg-ex08", "hostile_number_grid.ipynb"): {"1.2": 0, "1.3": 0},
    ("nyu-hw5", "hostile_fake_resnet.ipynb"): {
        ("4.1", "architecture"): 0, ("4.2", "pretrained"): 0, ("4.3", "optimizer"): 0},
    ("vu-dl-a2", "hostile_renamed_sigmoid.ipynb"): {"9b": 0},
}


# Where the grader still differs from the TA: asserted as they are (a fix shows up here)
# and named in the closing note as open.
KNOWN_GAPS: dict[tuple[str, str, str], tuple[float, float, str]] = {
    # (assignment, hand-in, question): (the grader's points, the TA's, why)
    ("tum-ps10", "ten_outputs_cifar_ids.ipynb", "2.2"): (
        0.0, 3.0, "a head of 10 outputs where the handout's 3 classes are asked: the right "
                  "body with the wrong number of classes earns nothing (the architecture "
                  "check's rule, from another TA); this TA gives 3 of 4"),
    ("tum-ps10", "hostile_forward_swapped.ipynb", "2.3"): (
        4.0, 2.0, "the network the swapped forward runs (a sigmoid MLP, trained with Adam) "
                  "earns the accuracy it reaches; the TA gives half of that, for a network "
                  "that is not the handout's"),
    ("ee411-hw3", "part2_hostile_relu_patched.ipynb", "2.3"): (
        4.0, 3.5, "the CNN's AvgPool2d swapped for MaxPool2d after training: the model is "
                  "graded as it stands at the end, not as it was trained"),
}


def _points(report, key: str | tuple[str, str]) -> float:
    qid, kind = (key, None) if isinstance(key, str) else key
    question = next(q for q in report.questions if q.id == qid)
    if kind is None:
        return question.points
    return sum(c.points for c in question.checks if c.kind == kind)


@pytest.mark.parametrize(("assignment_id", "name"), sorted(FAIR))
def test_an_unseen_hand_in_earns_what_a_careful_ta_gives(assignment_id, name, fixture_data):
    hidden = fixture_data / "hidden"
    recording = evidence.load(assignment_id, name, hidden)
    report = recording.replay(CATALOG[assignment_id], hidden, None)
    outside = {}
    for key, want in FAIR[(assignment_id, name)].items():
        got = _points(report, key)
        lo, hi = want if isinstance(want, tuple) else (want, want)
        if not lo - 1e-6 <= got <= hi + 1e-6:
            qid = key if isinstance(key, str) else key[0]
            outside[key] = (got, want, next(q.feedback for q in report.questions
                                            if q.id == qid)[:4])
    assert not outside, outside


@pytest.mark.parametrize(("assignment_id", "name", "qid"), sorted(KNOWN_GAPS))
def test_a_known_gap_stays_as_it_was_measured(assignment_id, name, qid, fixture_data):
    hidden = fixture_data / "hidden"
    report = evidence.load(assignment_id, name, hidden).replay(CATALOG[assignment_id],
                                                               hidden, None)
    graded, _ta, why = KNOWN_GAPS[(assignment_id, name, qid)]
    assert _points(report, qid) == pytest.approx(graded), why
