"""Gradebook files an LMS imports, for courses without LTI: Canvas's gradebook CSV and
Moodle's grade import CSV. One column of grades, the total after any late penalty, for
the students with a graded hand-in (an LMS reads an empty cell as "no change")."""

from __future__ import annotations

import csv
import io

from service.gradebook import Gradebook, Row, RowStatus

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(text: str) -> str:
    """Text as a spreadsheet shows it rather than runs it: staff open these files in
    Excel or Sheets before an upload, and an account named ``=HYPERLINK(...)`` would be a
    formula there (OWASP's CSV injection). Numbers are never passed through here, nor
    the columns an LMS matches accounts by (they must equal the account's name)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _graded(book: Gradebook) -> list[Row]:
    return [r for r in book.rows if r.status is RowStatus.GRADED]


def _points(value: float | None) -> str:
    return f"{value or 0:g}"


def canvas_csv(book: Gradebook, title: str) -> str:
    """Canvas's import format: the five identity columns its own export has, a "Points
    Possible" row, and a column named for the assignment (Canvas makes a new gradebook
    column of that name, or fills the one whose name matches). Students are matched by
    SIS Login ID, which is their account name here."""
    out = io.StringIO()
    writer = csv.writer(out)
    column = cell_text(f"{title} ({book.assignment_id})")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
    writer.writerow(["    Points Possible", "", "", "", "", _points(book.max_points)])
    for row in _graded(book):
        # the login column is the key Canvas matches on: as the account is named
        writer.writerow([cell_text(row.student), "", "", row.student, "",
                         _points(row.total)])
    return out.getvalue()


def moodle_csv(book: Gradebook, title: str) -> str:
    """Moodle's "Import grades from CSV": a column to map users by (Username), the grade,
    and a feedback column (mapped to the grade item's feedback on import)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Username", cell_text(title), "Feedback"])
    for row in _graded(book):
        notes = [f"{_points(row.score)} of {_points(book.max_points)} points graded"]
        if row.late_days:
            notes.append(f"{row.late_days} day(s) late: {_points(row.total)} after the "
                         "late penalty")
        if row.pending:
            notes.append(f"{_points(row.pending)} point(s) still to be graded by hand")
        # Username is the key Moodle maps users by: as the account is named
        writer.writerow([row.student, _points(row.total), "; ".join(notes)])
    return out.getvalue()
