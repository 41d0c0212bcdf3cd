"""Whether a validated version may go live, from two gradings in the sandbox: the
reference notebook must earn every autograded point, and a notebook with no answers
none (a check a blank notebook passes cannot fail)."""

from __future__ import annotations

from graders import GradeReport, Outcome, ReportStatus

_TOLERANCE = 1e-6


def _short(lines: list[str]) -> str:
    return f" ({'; '.join(lines)[:300]})" if lines else ""


def problems(reference: GradeReport, blank: GradeReport) -> list[str]:
    found: list[str] = []
    if reference.status is not ReportStatus.GRADED:
        found.append(f"the reference notebook could not be graded: {reference.reason}")
    for question in reference.questions:
        if question.outcome is Outcome.MANUAL:
            continue
        if question.outcome is Outcome.UNGRADED:
            found.append(f"question {question.id} cannot be graded on this service"
                         + _short(question.feedback))
        elif question.points < question.max_points - _TOLERANCE:
            found.append(f"question {question.id}: the reference notebook earns "
                         f"{question.points:g} of {question.max_points:g} points"
                         + _short(question.feedback))
    if blank.status is not ReportStatus.GRADED:
        # then no check was seen to fail: the version cannot be shown to discriminate
        found.append(f"the notebook with no answers could not be graded: {blank.reason}")
    for question in blank.questions:
        if question.outcome in (Outcome.MANUAL, Outcome.UNGRADED):
            continue
        if question.points > _TOLERANCE:
            found.append(f"question {question.id} gives {question.points:g} of "
                         f"{question.max_points:g} points to a notebook with no answers: "
                         "its checks cannot fail")
    return found
