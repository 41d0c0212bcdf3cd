"""What each audience sees of a report: manual grades applied, hidden parts withheld."""

from __future__ import annotations

from graders import GradeReport, Outcome, QuestionResult, Visibility
from service.db.models import ManualGrade

HIDDEN_NOTE = "hidden until your instructor releases the results"


def with_manual_grades(report: GradeReport, manual: dict[str, ManualGrade]) -> GradeReport:
    """Staff scores and comments override or extend the autograder's, per question."""
    questions = []
    for q in report.questions:
        entry = manual.get(q.id)
        if entry is None:
            questions.append(q)
            continue
        update: dict[str, object] = {}
        if entry.points is not None:
            points = max(0.0, min(entry.points, q.max_points))
            update["points"] = points
            # staff graded the whole question: nothing of it waits any more
            update["checks"] = [c.model_copy(update={"pending": False}) for c in q.checks]
            update["outcome"] = (Outcome.PASSED if points >= q.max_points
                                 else Outcome.PARTIAL if points > 0 else Outcome.FAILED)
        if entry.comment:
            update["feedback"] = [*q.feedback, f"Staff comment: {entry.comment}"]
        questions.append(q.model_copy(update=update))
    return report.model_copy(update={"questions": questions})


def student_view(report: GradeReport, *, hidden_released: bool) -> dict[str, object]:
    """The report a student may read: no raw probe data, hidden questions withheld."""
    questions: list[QuestionResult] = []
    for q in report.questions:
        if q.visibility is Visibility.HIDDEN and not hidden_released:
            questions.append(q.model_copy(update={
                "points": 0.0, "feedback": [HIDDEN_NOTE], "outcome": Outcome.MANUAL,
                "checks": []}))
        elif not hidden_released and any(c.expected for c in q.checks):
            # the answer key of value answers waits for the release, like hidden parts
            questions.append(q.model_copy(update={"checks": [
                c.model_copy(update={"expected": []}) for c in q.checks]}))
        else:
            questions.append(q)
    shown = report.model_copy(update={"questions": questions, "probes": [], "candidates": []})
    data = shown.model_dump(mode="json")
    if not hidden_released and any(q.visibility is Visibility.HIDDEN for q in report.questions):
        data["hidden_pending"] = True
    return data
