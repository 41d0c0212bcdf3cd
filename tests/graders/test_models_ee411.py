"""EE-411 homework 3 part 2 (KMNIST): loaders, MLP and CNN architectures, the
parameter-count function, PermutedKMNIST, and plots, graded through the sandbox."""

from __future__ import annotations

import pytest

from tests.conftest import assert_points, cached_grader, points, question

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
PART1 = {"1.1": 5.0, "1.2": 5.0, "1.3": 6.0, "1.5": 12.0}
PART2 = {"2.1": 3.0, "2.2": 4.0, "2.3": 4.0, "2.4": 4.0, "2.5": 4.0}


@pytest.fixture(scope="session")
def grade_part2(ee411, data_config, fixture_data):
    return cached_grader(ee411, data_config, fixture_data, "ee411_hw3")


def test_a_correct_notebook_scores_full_marks_on_both_parts(grade_part2):
    graded = grade_part2("part2_correct.ipynb")
    assert_points(graded, {**PART1, **PART2})
    assert "count_parameters() counts parameters correctly" in question(graded, "2.4").feedback
    assert any("looked for at least 1 curve(s)" in line and "found" in line
               for line in question(graded, "2.2").feedback)


def test_a_fixed_permutation_without_the_handouts_class_earns_the_permutation_points(
        grade_part2):
    graded = grade_part2("part2_permutation_lambda.ipynb")
    assert_points(graded, {**PART1, **PART2})
    assert "permutes the pixels the same way for every image" in \
        question(graded, "2.5").feedback[0]


@pytest.mark.parametrize(("fixture", "expected", "phrase"), [
    ("part2_wrong_mlp.ipynb", {"2.2": 3.0}, "layer 1 is Linear(784, 128); expected "
                                            "Linear(784, 100)"),
    ("part2_wrong_optimizer.ipynb", {"2.2": 3.75, "2.3": 3.75},
     "no optimizer constructed as Adam(lr=1)"),
    ("part2_param_count_weights_only.ipynb", {"2.4": 0.0}, "which has 89,610 parameters"),
    ("part2_no_permutation.ipynb", {"2.5": 1.0}, "ends with a permutation of the pixels"),
    # a class named as the handout's that permutes each image differently: nothing
    ("part2_permutation_per_image.ipynb", {"2.5": 1.0}, "differently for every image"),
    ("part2_wrong_split.ipynb", {"2.1": 1.0 + 2 / 3}, "no DataLoader over the training set"),
    ("part2_no_plots.ipynb", {"2.1": 2.0, "2.2": 3.0, "2.3": 3.0, "2.5": 3.0},
     "looked for at least 1 image(s) drawn with imshow"),
])
def test_each_flaw_costs_its_question(grade_part2, fixture, expected, phrase):
    graded = grade_part2(fixture)
    got = points(graded)
    assert got == pytest.approx({**PART1, **PART2, **expected}), [
        (q.id, q.feedback) for q in graded.report.questions if q.points < q.max_points]
    qid = next(iter(expected))
    assert phrase in " ".join(question(graded, qid).feedback)


@pytest.mark.live
def test_plots_are_kept_for_the_instructor(grade_part2):
    graded = grade_part2("part2_correct.ipynb")
    images = [o for c in graded.notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 4
