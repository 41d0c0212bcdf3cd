"""The class's best hidden-set accuracy per student, for the questions graded on hidden
images, under pseudonyms students cannot work back to names."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from graders import LoadedAssignment, Visibility, report_from_json
from service.db import repository as repo
from service.db.models import RunStatus, User
from service.pseudonyms import pseudonym
from service.schemas import Leaderboard, LeaderboardEntry, LeaderboardQuestion

ACCURACY_KIND = "model_accuracy"


def build(db: Session, assignment: LoadedAssignment, viewer: User, *, data_dir: Path,
          enabled: bool, released: bool, only: list[str] | None = None) -> Leaderboard:
    """Each accuracy question's best accuracy per student (a group's hand-in counts for
    the group once), best first; hidden questions only once their results are released.
    ``only``: the questions staff opted in (the others are marked not shown)."""
    spec = assignment.spec
    hidden = {q.id for q in spec.questions if q.visibility is Visibility.HIDDEN}
    # question id -> who (a student, or a group once) -> (best accuracy, the viewer's)
    best: dict[str, dict[str, tuple[float, bool]]] = {}
    rows, _ = repo.list_submissions(db, assignment_id=assignment.id, limit=1_000_000)
    for sub in rows:
        run = repo.current_run(db, submission_id=sub.id)
        if run is None or run.status != RunStatus.GRADED or not run.report_json:
            continue
        report = report_from_json(run.report_json)
        who = f"group {sub.group.name}" if sub.group else sub.user.name
        mine = viewer.id in {u.id for u in repo.owners(sub)}
        for result in report.questions:
            if result.id in hidden and not released:
                continue
            measured = [c.measured for c in result.checks if c.kind == ACCURACY_KIND
                        and c.measured is not None and not c.pending]
            if not measured:
                continue
            board = best.setdefault(result.id, {})
            held = board.get(who)
            board[who] = (max(measured, default=0.0) if held is None
                          else max(held[0], *measured), mine or bool(held and held[1]))
    questions = []
    for question in spec.questions:
        if question.id not in best:
            continue
        ranked = sorted(best[question.id].items(), key=lambda kv: (-kv[1][0], kv[0]))
        questions.append(LeaderboardQuestion(
            question_id=question.id, title=question.title,
            shown=only is None or question.id in only, entries=[
                LeaderboardEntry(rank=i + 1, accuracy=round(acc, 4), you=you,
                                 name="you" if you else pseudonym(data_dir, assignment.id, who))
                for i, (who, (acc, you)) in enumerate(ranked)]))
    return Leaderboard(assignment_id=assignment.id, enabled=enabled, questions=questions)
