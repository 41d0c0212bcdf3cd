"""Which cells answer a question, found as a TA finds them: the handout's number in the
students' own heading styles, and a lettered sub-question ("2b") under its "(b)"."""

from __future__ import annotations

from graders.results import CellSummary
from graders.scoring.sections import locate, question_letter


def md(index: int, heading: str, level: int = 3) -> CellSummary:
    return CellSummary(index=index, kind="markdown", heading=heading, level=level)


def code(index: int) -> CellSummary:
    return CellSummary(index=index, kind="code", source=f"answer_{index} = {index}")


NOTEBOOK = [md(0, "Problem 2: Convolutions", 2), md(1, "(a) Shapes"), code(2),
            md(3, "b) Channels"), code(4), md(5, "c. Operations", 6), code(6),
            md(7, "Problem 4", 2), code(8)]


def test_a_lettered_sub_question_is_found_under_its_letter_in_each_style():
    for letter, cell in (("a", 2), ("b", 4), ("c", 6)):
        section = locate(NOTEBOOK, section=None, number="2", letter=letter)
        assert [c.index for c in section.cells] == [cell], letter


def test_a_letter_the_notebook_does_not_head_falls_back_to_the_whole_part():
    section = locate(NOTEBOOK, section=None, number="2", letter="e")
    assert [c.index for c in section.cells] == [1, 2, 3, 4, 5, 6]


def test_the_letter_of_a_question_id():
    assert [question_letter(q) for q in ("2b", "2.2b", "4.1", "10", "2ab")] == \
        ["b", "b", None, None, None]


def test_a_numbered_sub_question_the_notebook_does_not_head_is_in_its_problems_part():
    """"## 4" heads all of problem 4: 4.5's curves are somewhere in it, not nowhere (an
    unseen hand-in's plots earned nothing); a heading of its own still wins."""
    cells = [md(0, "2", 2), code(1), md(2, "4", 2), code(3), code(4), md(5, "5", 2),
             code(6)]
    section = locate(cells, section=r"problem\s*4|curve", number="4.5")
    assert section.found and [c.index for c in section.cells] == [3, 4]
    headed = [*cells[:5], md(7, "4.5 Curves", 3), code(8), *cells[5:]]
    assert [c.index for c in locate(headed, section=None, number="4.5").cells] == [8]
    # no problem 3 in the notebook: 3.1 is not found in another problem's part
    assert not locate(cells, section=r"problem\s*3", number="3.1").found


def mdtext(index: int, text: str) -> CellSummary:
    """A markdown cell as the notebook reader summarises it: its last heading."""
    heads = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    level = next((len(line) - len(line.lstrip("#")) for line in reversed(text.splitlines())
                  if line.startswith("#")), 0)
    return CellSummary(index=index, kind="markdown", markdown=text,
                       heading=heads[-1] if heads else None, level=level)


def test_sub_questions_numbered_in_roman_under_a_part_heading_in_the_same_cell():
    """Heidelberg's sheet numbers exercise 3's parts i) to iv): "# 3 Image
    classification" and "## i) VGG-16" in one cell (its summary keeps the last heading),
    "## iii) Results" later; 3.3 is the results' cells."""
    cells = [mdtext(0, "# 2 Getting to know PyTorch"), code(1),
             mdtext(2, "# 3 Image classification\n## i) VGG-16"), code(3),
             mdtext(4, "## ii) Training"), code(5), mdtext(6, "## iii) Results"), code(7),
             mdtext(8, "## iv) Bonus"), code(9)]
    assert [c.index for c in locate(cells, section=None, number="3.3").cells] == [7]
    assert [c.index for c in locate(cells, section=None, number="3.1").cells] == [3]


def test_a_numbered_line_that_is_no_heading_starts_its_sub_question():
    cells = [mdtext(0, "### Aufgabe 3 - VGG on CIFAR-10"), code(1),
             mdtext(2, "iii) accuracies, three correct and three wrong images"), code(3),
             code(4), mdtext(5, "iv) bonus: batch norm after every conv"), code(6)]
    assert [c.index for c in locate(cells, section=None, number="3.3").cells] == [3, 4]
    assert [c.index for c in locate(cells, section=None, number="3.4").cells] == [6]


def test_the_parts_own_number_with_another_sub_question_after_it_is_not_that_one():
    """"Task 3 iv" heads 3.4, not 3.3 (the part's own number, 3, comes first)."""
    cells = [mdtext(0, "## Task 3"), code(1), code(2), mdtext(3, "## Task 3 iv"), code(4)]
    assert [c.index for c in locate(cells, section=None, number="3.4").cells] == [4]
    assert [c.index for c in locate(cells, section=None, number="3.3").cells] == [1, 2]


def test_a_part_that_heads_its_other_sub_questions_does_not_answer_the_missing_one():
    """"## Part 2" heads 2.1 to 2.4: 2.5 is not there, and the part's pictures (2.1's
    look at the data) do not answer it."""
    cells = [mdtext(0, "## Part 2\n### 2.1"), code(1), mdtext(2, "### 2.2"), code(3),
             mdtext(4, "### 2.4"), code(5)]
    assert not locate(cells, section=r"2\.5|permut", number="2.5").found


def test_parts_numbered_like_sub_questions_end_where_the_next_part_begins():
    """"## 1) Automatic differentiation" then "## 2) MNIST": 1.2 is not the MNIST part
    (a v1 = 3.0 found there answered the forward trace)."""
    cells = [mdtext(0, "## 1) Automatic differentiation"), code(1),
             mdtext(2, "## 2) MNIST with pytorch"), code(3)]
    assert [c.index for c in locate(cells, section=None, number="1.2").cells] == [1]
    assert [c.index for c in locate(cells, section=None, number="2").cells] == [3]


def test_a_question_numbered_under_an_exercise_of_the_same_number_is_found():
    """"Exercise 2" then "Question 2": 2.2 is its question, not the whole exercise; a
    line "i.e. ..." does not end a sub-question that starts at a numbered line."""
    cells = [mdtext(0, "## Exercise 2"), mdtext(1, "### Question 1"), code(2),
             mdtext(3, "### Question 2"), code(4), mdtext(5, "### Question 3"), code(6)]
    assert [c.index for c in locate(cells, section=None, number="2.2").cells] == [4]
    lines = [mdtext(0, "### Aufgabe 3"), mdtext(1, "iii) accuracies"), code(2),
             mdtext(3, "i.e. the wrong ones are cats"), code(4), mdtext(5, "iv) bonus")]
    assert [c.index for c in locate(lines, section=None, number="3.3").cells] == [2, 3, 4]
