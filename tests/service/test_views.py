"""What a student may see of a report."""

from __future__ import annotations

from graders.results import GradeReport, Outcome, ProbeRecord, QuestionResult, ReportStatus
from graders.spec import Visibility
from service.db.models import ManualGrade
from service.views import HIDDEN_NOTE, student_view, with_manual_grades


def report() -> GradeReport:
    return GradeReport(
        assignment_id="a", assignment_version="1", engine_version="x",
        status=ReportStatus.GRADED,
        questions=[
            QuestionResult(id="1", title="open", points=2, max_points=2,
                           outcome=Outcome.PASSED),
            QuestionResult(id="2", title="secret", points=1, max_points=3,
                           outcome=Outcome.PARTIAL, feedback=["the hidden test failed"],
                           visibility=Visibility.HIDDEN),
            QuestionResult(id="3", title="essay", points=0, max_points=5,
                           outcome=Outcome.MANUAL),
        ],
        probes=[ProbeRecord(call_id="1:0:0", symbol="f", candidate=0, status="ok")],
    )


def test_hidden_questions_are_withheld_until_released():
    view = student_view(report(), hidden_released=False)
    secret = view["questions"][1]
    assert secret["feedback"] == [HIDDEN_NOTE] and secret["points"] == 0
    assert view["score"] == 2 and view["hidden_pending"] is True
    assert view["probes"] == [] and view["candidates"] == []


def test_released_hidden_questions_are_shown():
    view = student_view(report(), hidden_released=True)
    assert view["questions"][1]["feedback"] == ["the hidden test failed"]
    assert view["score"] == 3 and "hidden_pending" not in view


def test_manual_grades_score_a_manual_question_and_add_comments():
    manual = {"3": ManualGrade(question_id="3", points=4.0, comment="good"),
              "1": ManualGrade(question_id="1", points=None, comment="tidy code")}
    graded = with_manual_grades(report(), manual)
    essay = graded.questions[2]
    assert essay.outcome is Outcome.PARTIAL and essay.points == 4.0
    assert graded.questions[0].points == 2 and "Staff comment: tidy code" in \
        graded.questions[0].feedback
    assert graded.score == 7 and graded.max_score == 10


def test_a_staff_score_for_a_question_with_a_waiting_check_leaves_nothing_waiting():
    from graders.results import CheckResult

    waiting = GradeReport(
        assignment_id="a", assignment_version="1", engine_version="x",
        status=ReportStatus.GRADED,
        questions=[QuestionResult(
            id="3.3", title="accuracy and a plot", points=1, max_points=3,
            outcome=Outcome.PASSED, checks=[
                CheckResult(kind="model_accuracy", name="accuracy", points=0, max_points=2,
                            pending=True),
                CheckResult(kind="plot", name="plot", points=1, max_points=1)])])
    assert waiting.max_score == 1 and waiting.questions[0].pending_points == 2
    graded = with_manual_grades(waiting, {"3.3": ManualGrade(points=3.0, comment=None)})
    assert graded.questions[0].pending_points == 0
    assert graded.score == graded.max_score == 3
