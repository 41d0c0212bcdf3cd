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
