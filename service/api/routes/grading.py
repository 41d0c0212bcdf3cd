"""Grading one question across every submission that counts, with reusable rubric items
(nbgrader's formgrader and Gradescope's "grade by question"). An item is points and a
comment; applying it scores the question as the sum of the items applied; editing it
changes every submission it is applied to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator

from graders import LoadedAssignment
from service import gradebook
from service.api.deps import DB, AssignmentDep, Instructor, State, unit_of_work
from service.db import repository as repo
from service.db.models import RubricItem, Submission, User
from service.pseudonyms import pseudonym
from service.schemas import ERROR_RESPONSES, _json_number, _plain_text

router = APIRouter(tags=["grading"], responses=ERROR_RESPONSES)


class RubricItemIn(BaseModel):
    points: float = Field(ge=-1000, le=1000)
    comment: str = Field(min_length=1, max_length=2000)

    _numbers = field_validator("points", mode="before")(_json_number)
    _comment = field_validator("comment", mode="before")(_plain_text)


class RubricItemEdit(BaseModel):
    points: float | None = Field(default=None, ge=-1000, le=1000)
    comment: str | None = Field(default=None, min_length=1, max_length=2000)

    _numbers = field_validator("points", mode="before")(_json_number)
    _comment = field_validator("comment", mode="before")(_plain_text)


class RubricItemOut(BaseModel):
    id: str
    points: float
    comment: str
    applied_to: int  # submissions


class ToGrade(BaseModel):
    submission_id: str
    student: str
    group: str | None = None
    points: float | None  # None: not graded yet
    comment: str | None = None
    applied: list[str]  # rubric item ids
    feedback: list[str] = []  # the autograder's, for a question it grades


class QuestionGrading(BaseModel):
    assignment_id: str
    question_id: str
    title: str
    max_points: float
    manual: bool
    # names and groups replaced by stable pseudonyms, in the pseudonyms' order, while the
    # assignment is graded blind
    blind: bool = False
    items: list[RubricItemOut]
    submissions: list[ToGrade]
    graded: int


class Applied(BaseModel):
    on: bool


def _question(assignment: LoadedAssignment, question_id: str) -> tuple[str, float, bool]:
    try:
        q = assignment.spec.question(question_id)
    except KeyError:
        raise HTTPException(404, f"Assignment {assignment.id} has no question "
                                 f"{question_id!r}.") from None
    return q.title, float(q.points), q.manual


def _view(db: DB, state: State, assignment: LoadedAssignment,
          question_id: str) -> QuestionGrading:
    title, max_points, manual = _question(assignment, question_id)
    items = repo.rubric_items(db, assignment_id=assignment.id, question_id=question_id)
    on = repo.applied(db, item_ids=[i.id for i in items])
    book = gradebook.build(db, assignment)
    blind = repo.get_policy(db, assignment_id=assignment.id).blind_grading
    # one submission per student (a group's once), in the gradebook's order
    seen: set[str] = set()
    rows = []
    for row in book.rows:
        if row.status is not gradebook.RowStatus.GRADED or row.submission_id in seen:
            continue
        seen.add(row.submission_id or "")
        cell = row.cells.get(question_id)
        manual_entry = repo.manual_grades(db, submission_id=row.submission_id or "").get(
            question_id)
        rows.append(ToGrade(
            submission_id=row.submission_id or "",
            student=pseudonym(state.settings.data_dir, assignment.id,
                              f"group {row.group}" if row.group else row.student)
            if blind else row.student,
            group=None if blind else row.group,
            points=cell.points if cell else None,
            comment=manual_entry.comment if manual_entry else None,
            applied=sorted(on.get(row.submission_id or "", set()))))
    counts = {i.id: sum(1 for s in on.values() if i.id in s) for i in items}
    if blind:
        rows.sort(key=lambda r: r.student)  # not the names' alphabetical order
    return QuestionGrading(
        assignment_id=assignment.id, question_id=question_id, title=title,
        max_points=max_points, manual=manual, blind=blind,
        items=[RubricItemOut(id=i.id, points=i.points, comment=i.comment,
                             applied_to=counts[i.id]) for i in items],
        submissions=rows, graded=sum(1 for r in rows if r.points is not None))


@router.get("/assignments/{assignment_id}/questions/{question_id}/grading",
            response_model=QuestionGrading)
@unit_of_work
def question_grading(assignment: AssignmentDep, question_id: str, user: Instructor,
                     db: DB, state: State) -> QuestionGrading:
    return _view(db, state, assignment, question_id)


@router.post("/assignments/{assignment_id}/questions/{question_id}/rubric", status_code=201,
             response_model=RubricItemOut)
@unit_of_work
def add_item(assignment: AssignmentDep, question_id: str, body: RubricItemIn,
             user: Instructor, db: DB) -> RubricItemOut:
    # an autograded question is reviewed here, not re-scored: a rubric would replace the
    # autograder's points (staff override one with the per-submission grade instead)
    if not _question(assignment, question_id)[2]:
        raise HTTPException(409, f"Question {question_id} is autograded: rubric items are for "
                                 "questions graded by hand (override one submission's score "
                                 "on its page instead).")
    item = repo.add_rubric_item(db, assignment_id=assignment.id, question_id=question_id,
                                points=body.points, comment=body.comment, author=user)
    repo.audit(db, actor=user, action="rubric_item", target=item.id,
               detail=body.model_dump())
    return RubricItemOut(id=item.id, points=item.points, comment=item.comment, applied_to=0)


def _item(db: DB, state: State, item_id: str) -> tuple[RubricItem, LoadedAssignment, float]:
    item = repo.rubric_item(db, item_id=item_id)
    if item is None or item.assignment_id not in state.catalog:
        raise HTTPException(404, "There is no such rubric item.")
    assignment = state.catalog[item.assignment_id]
    return item, assignment, _question(assignment, item.question_id)[1]


def _rescore(db: DB, item: RubricItem, submission_id: str, max_points: float,
             user: User) -> None:
    repo.rescore_with_rubric(db, assignment_id=item.assignment_id,
                             question_id=item.question_id, submission_id=submission_id,
                             max_points=max_points, grader=user)


@router.patch("/rubric/{item_id}", response_model=QuestionGrading)
@unit_of_work
def edit_item(item_id: str, body: RubricItemEdit, user: Instructor, db: DB,
              state: State) -> QuestionGrading:
    """Edit an item: every submission it is applied to is scored again."""
    item, assignment, max_points = _item(db, state, item_id)
    before = {"points": item.points, "comment": item.comment}
    if body.points is not None:
        item.points = body.points
    if body.comment is not None:
        item.comment = body.comment
    for submission_id in [s for s, ids in repo.applied(db, item_ids=[item.id]).items()
                          if item.id in ids]:
        _rescore(db, item, submission_id, max_points, user)
    repo.audit(db, actor=user, action="rubric_edit", target=item.id,
               detail={"before": before, "after": body.model_dump(exclude_none=True)})
    return _view(db, state, assignment, item.question_id)


@router.put("/submissions/{submission_id}/rubric/{item_id}", response_model=QuestionGrading)
@unit_of_work
def apply_item(submission_id: str, item_id: str, body: Applied, user: Instructor, db: DB,
               state: State) -> QuestionGrading:
    item, assignment, max_points = _item(db, state, item_id)
    submission = db.get(Submission, submission_id)
    if submission is None or submission.assignment_id != item.assignment_id:
        raise HTTPException(404, "There is no such submission.")
    repo.set_applied(db, item=item, submission_id=submission_id, on=body.on, grader=user)
    _rescore(db, item, submission_id, max_points, user)
    repo.audit(db, actor=user, action="rubric_apply" if body.on else "rubric_unapply",
               target=f"{submission_id}/{item.question_id}", detail={"item": item.id})
    return _view(db, state, assignment, item.question_id)
