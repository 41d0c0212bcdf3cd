"""Hand-ins written the way students write them (tests/fixtures/notebooks/*/ta_*.ipynb:
each notebook's first cell says what a careful TA gives it, and why), graded from their
recordings: every question's points must fall in the TA's range. Per assignment a
correct notebook in an unusual style, one with a conceptual mistake, an incomplete one,
and one built to earn credit it does not deserve (an untrained network behind typed-in
accuracies, a trace nobody wrote, a permutation nothing was trained on)."""

from __future__ import annotations

import pytest

from tests import evidence

# (lo, hi) per question; a number is an exact score. Questions not listed are left out
# by the hand-in or graded by hand.
Range = float | tuple[float, float]
TA: dict[tuple[str, str], dict[str, Range]] = {
    ("ee411-hw3", "ta_correct_unusual.ipynb"): {
        "1.1": 5, "1.2": 5, "1.3": 6, "1.5": 12, "2.1": 3, "2.4": 4, "2.5": 3,
        # optimizers built by getattr(torch.optim, name)(...) from a list: see KNOWN_GAPS
        "2.2": (3.5, 4), "2.3": (3.5, 4)},
    ("ee411-hw3", "ta_conceptual.ipynb"): {
        "1.1": 5, "1.2": 5, "1.3": (3, 3.5), "1.5": (0, 3), "2.1": 3, "2.2": (1.5, 2.5),
        "2.3": (3.5, 4), "2.4": 4, "2.5": (0, 1.5)},
    ("ee411-hw3", "ta_incomplete.ipynb"): {
        "1.1": 5, "1.2": 5, "1.3": 0, "1.5": 0, "2.1": 3, "2.2": (1, 2), "2.3": 0, "2.4": 0,
        "2.5": 0},
    ("ee411-hw3", "ta_fool.ipynb"): {
        "1.1": 5, "1.2": 5, "1.3": 6, "1.5": (0, 3.6), "2.1": 3, "2.2": (2, 2.5),
        "2.3": (0, 1), "2.4": 0, "2.5": (0, 1)},
    ("heidelberg-ex08", "ta_correct_unusual.ipynb"): {
        "1.2": 4, "1.3": 3, "2": (9, 10), "3.1": 0, "3.2": 0, "3.3": 0, "3.4": 0},
    # sigmoid, softmax, Adam 1e-2: the TA gives the architecture 1 to 1.5 of 3 and the
    # loader 1; the network reaches 65% where the reference reaches 97%, which the
    # accuracy bands credit with nothing
    ("heidelberg-ex08", "ta_conceptual.ipynb"): {"1.2": 4, "1.3": 1.5, "2": (2, 6)},
    ("heidelberg-ex08", "ta_incomplete.ipynb"): {"1.2": (1.5, 2), "1.3": 0, "2": (4, 5)},
    # 1.2: y, and v4 computed as `q` on the way (a step of the trace); 1.3: autograd's
    # numbers are no reverse trace
    ("heidelberg-ex08", "ta_fool.ipynb"): {"1.2": (1, 2), "1.3": (0, 1), "2": (4, 5)},
    ("tum-ps10", "ta_correct_unusual.ipynb"): {"2.1": 4, "2.2": 4, "2.3": (5, 6), "2.4": 6},
    ("tum-ps10", "ta_conceptual.ipynb"): {"2.1": 4, "2.2": 4, "2.3": (1, 2), "2.4": (0, 2)},
    ("tum-ps10", "ta_incomplete.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 0, "2.4": 0},
    ("tum-ps10", "ta_fool.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 0, "2.4": (0, 1)},
    ("vu-dl-a2", "ta_correct_unusual.ipynb"): {"1-op": 3, "9": 6, "9b": 4},
    ("vu-dl-a2", "ta_conceptual.ipynb"): {"1-op": 2.1, "9": 2.4, "9b": (0, 4)},
    ("vu-dl-a2", "ta_incomplete.ipynb"): {"1-op": 3, "9": 2.4, "9b": 0},
    ("vu-dl-a2", "ta_fool.ipynb"): {"1-op": 3, "9": 6, "9b": 0},
}

# Where the grader still differs from the TA: asserted as they are (a fix shows up here),
# never hidden in a wider range, and named in the closing notes as open.
KNOWN_GAPS: dict[tuple[str, str, str], tuple[float, str]] = {
    # under, not over: the two TAs disagree on sigmoid + softmax-before-the-loss (EE-411's
    # gives the architecture 0 to 25%, this one 33 to 50%); the grader gives 25%, the
    # share it gives in quarters, and stays on the side that gives less
    ("heidelberg-ex08", "ta_conceptual.ipynb", "2"): (
        1.75, "softmax before CrossEntropyLoss and sigmoid where ReLU is asked leave the "
              "architecture 0.75 of 3 (a quarter of it); this TA gives 1 to 1.5 (TA 2 to 6)"),
}


def _within(got: float, want: Range) -> bool:
    lo, hi = (want, want) if isinstance(want, int | float) else want
    return lo - 1e-6 <= got <= hi + 1e-6


@pytest.mark.parametrize(("assignment_id", "name"), sorted(TA), ids=[f"{a}/{n}" for a, n
                                                                     in sorted(TA)])
def test_a_hand_in_written_as_students_write_scores_within_the_tas_range(
        catalog, fixture_data, assignment_id, name):
    recording = evidence.load(assignment_id, name, fixture_data / "hidden")
    replayed = recording.replay(catalog[assignment_id], fixture_data / "hidden",
                                recording.calibration)
    got = {q.id: q.points for q in replayed.questions}
    outside = {}
    for qid, want in TA[(assignment_id, name)].items():
        gap = KNOWN_GAPS.get((assignment_id, name, qid))
        if gap is not None:
            assert got[qid] == pytest.approx(gap[0]), (qid, gap[1])
            continue
        if not _within(got[qid], want):
            question = next(q for q in replayed.questions if q.id == qid)
            outside[qid] = (got[qid], want, question.feedback[:3])
    assert not outside, outside
