"""The gradebook files an LMS imports, from a gradebook built in memory (no server): one
grade per student with a graded hand-in, and nothing a spreadsheet would run."""

from __future__ import annotations

import csv
import io

from service.gradebook import Gradebook, Row, RowStatus
from service.lms_files import canvas_csv, cell_text, moodle_csv

EVIL = "=HYPERLINK(\"http://evil\",\"x\")"
BOOK = Gradebook(assignment_id="hw", max_points=40, counted="latest", questions=[], rows=[
    Row(student="ada", status=RowStatus.GRADED, score=30, total=27, late_days=1),
    Row(student=EVIL, status=RowStatus.GRADED, score=10,
        total=10, pending=12),
    Row(student="bo", status=RowStatus.NOT_SUBMITTED),
    Row(student="cy", status=RowStatus.FAILED)])


def test_canvas_rows_carry_the_total_after_the_late_penalty_and_only_graded_students():
    rows = list(csv.reader(io.StringIO(canvas_csv(BOOK, "Homework"))))
    assert rows[0][-1] == "Homework (hw)" and rows[1][-1] == "40"
    # the login, which Canvas matches on, as the account is named; the name shown quoted
    assert {r[3]: r[5] for r in rows[2:]} == {"ada": "27", EVIL: "10"}
    assert [r[0] for r in rows[2:]] == ["ada", "'" + EVIL]


def test_moodle_feedback_says_what_is_late_and_what_is_still_to_be_graded():
    rows = {r["Username"]: r for r in csv.DictReader(io.StringIO(moodle_csv(BOOK, "Homework")))}
    assert rows["ada"]["Homework"] == "27" and "1 day(s) late" in rows["ada"]["Feedback"]
    formula = rows[EVIL]
    assert "12 point(s) still to be graded by hand" in formula["Feedback"]
    assert set(rows) == {"ada", EVIL}


def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_quoted_and_others_are_not():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert cell_text(text) == "'" + text
    for text in ("ada", "Ada Lovelace", "1=1", ""):
        assert cell_text(text) == text
