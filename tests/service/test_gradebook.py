"""Which hand-in counts for a student in the gradebook (and so in the exports)."""

from __future__ import annotations

from datetime import datetime, timedelta

from graders.results import GradeReport, Outcome, QuestionResult, ReportStatus
from service.db.models import AssignmentPolicy, LatePolicy, Submission
from service.gradebook import _better

T0 = datetime(2026, 12, 1, 12, 0)
POLICY = AssignmentPolicy(assignment_id="a", late_policy=LatePolicy.ACCEPT, penalty_per_day=0)


def _report(points: float) -> GradeReport:
    return GradeReport(assignment_id="a", assignment_version="1", engine_version="x",
                       status=ReportStatus.GRADED, questions=[QuestionResult(
                           id="1", title="q", points=points, max_points=10,
                           outcome=Outcome.PARTIAL)])


def _hand_in(minutes: int) -> Submission:
    return Submission(id=f"s{minutes}", created_at=T0 + timedelta(minutes=minutes),
                      late_days=0)


def test_a_resubmission_still_being_graded_does_not_take_the_graded_one_away():
    graded, queued = (_hand_in(0), _report(7.0)), (_hand_in(5), None)
    assert not _better("latest", queued, graded, POLICY)
    assert _better("latest", graded, queued, POLICY)


def test_latest_and_best_pick_among_graded_hand_ins():
    early, late = (_hand_in(0), _report(9.0)), (_hand_in(5), _report(6.0))
    assert _better("latest", late, early, POLICY)
    assert not _better("best", late, early, POLICY)
    assert _better("best", early, late, POLICY)
