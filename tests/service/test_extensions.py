"""Per-student deadlines: an extension moves the student's own deadline (and a group's,
through any member's), a waiver lifts the late policy, the student sees their own and
nobody else's, and the gradebook export says who had one. Workers are not needed: the
deadline decides at upload."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from service.db.models import Role
from tests.service.conftest import LiveServer, submit

pytestmark = pytest.mark.sandbox  # the server checks its sandbox at start-up


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("extensions"), workers=0).start()
    yield server
    server.stop()


def test_an_extension_moves_one_students_deadline_and_says_why(live):
    staff = live.client(live.add_user("ext-prof", Role.INSTRUCTOR))
    late = live.client(live.add_user("ext-late", Role.STUDENT))
    other = live.client(live.add_user("ext-other", Role.STUDENT))
    assert staff.patch("/assignments/ee411-hw3", json={
        "deadline": _iso(-timedelta(days=2)), "late_policy": "reject"}).status_code == 200
    refused = submit(late, "correct_basic.ipynb")
    assert refused.status_code == 403 and "deadline" in refused.json()["detail"]

    granted = staff.put("/assignments/ee411-hw3/extensions/ext-late", json={
        "deadline": _iso(timedelta(days=1)), "reason": "medical certificate"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["granted_by"] == "ext-prof"
    accepted = submit(late, "correct_basic.ipynb")
    assert accepted.status_code == 202 and accepted.json()["late_days"] == 0
    # only theirs: the classmate is still past the deadline
    assert submit(other, "correct_basic.ipynb").status_code == 403
    # the student sees their own extension and why, the classmate sees none
    mine = late.get("/assignments/ee411-hw3").json()["my_extension"]
    assert mine["reason"] == "medical certificate"
    assert [e["student"] for e in late.get("/assignments/ee411-hw3/extensions").json()] == \
        ["ext-late"]
    assert other.get("/assignments/ee411-hw3/extensions").json() == []
    assert other.get("/assignments/ee411-hw3").json()["my_extension"] is None
    # staff see it in the export, and withdrawing it restores the deadline
    export = staff.get("/assignments/ee411-hw3/export").text
    assert "extended_to" in next(csv.reader(io.StringIO(export)))
    assert staff.delete("/assignments/ee411-hw3/extensions/ext-late").status_code == 204
    assert submit(late, "correct_basic.ipynb").status_code == 403
    assert staff.delete("/assignments/ee411-hw3/extensions/ext-late").status_code == 404


def test_a_penalty_counts_from_the_extended_deadline_and_a_waiver_lifts_it(live):
    staff = live.client(live.add_user("pen-prof", Role.INSTRUCTOR))
    student = live.client(live.add_user("pen-student", Role.STUDENT))
    assert staff.patch("/assignments/ee411-hw3", json={
        "deadline": _iso(-timedelta(days=5)), "late_policy": "penalty",
        "penalty_per_day": 0.1}).status_code == 200
    staff.put("/assignments/ee411-hw3/extensions/pen-student", json={
        "deadline": _iso(-timedelta(days=1, hours=12)), "reason": "exam clash"})
    body = submit(student, "correct_basic.ipynb", assignment="ee411-hw3").json()
    assert body["late_days"] == 2  # a day and a half after the extended deadline
    staff.put("/assignments/ee411-hw3/extensions/pen-student", json={
        "deadline": _iso(-timedelta(days=1, hours=12)), "reason": "accommodation",
        "waive_late_policy": True})
    assert submit(student, "correct_basic.ipynb", assignment="ee411-hw3").json()[
        "late_days"] == 0


def test_a_group_member_s_extension_is_the_group_s(live):
    staff = live.client(live.add_user("grp-prof", Role.INSTRUCTOR))
    first = live.client(live.add_user("grp-a", Role.STUDENT))
    live.add_user("grp-b", Role.STUDENT)
    assert staff.patch("/assignments/ee411-hw3", json={
        "deadline": _iso(-timedelta(hours=1)), "late_policy": "reject"}).status_code == 200
    assert staff.put("/assignments/ee411-hw3/groups/pair", json={
        "members": ["grp-a", "grp-b"]}).status_code == 200
    assert submit(first, "correct_basic.ipynb", assignment="ee411-hw3"
                  ).status_code == 403
    staff.put("/assignments/ee411-hw3/extensions/grp-b", json={
        "deadline": _iso(timedelta(hours=3)), "reason": "grp-b was ill"})
    assert submit(first, "correct_basic.ipynb", assignment="ee411-hw3"
                  ).status_code == 202


def test_extensions_are_for_students_with_a_reason_and_a_zoned_deadline(live):
    staff = live.client(live.add_user("val-prof", Role.INSTRUCTOR))
    live.add_user("val-student", Role.STUDENT)
    url = "/assignments/ee411-hw3/extensions/"
    assert staff.put(url + "val-prof", json={"deadline": _iso(timedelta(days=1)),
                                            "reason": "x"}).status_code == 422
    assert staff.put(url + "nobody", json={"deadline": _iso(timedelta(days=1)),
                                          "reason": "x"}).status_code == 404
    assert staff.put(url + "val-student", json={"deadline": "2030-01-01T10:00:00",
                                               "reason": "x"}).status_code == 422
    assert staff.put(url + "val-student", json={"deadline": _iso(timedelta(days=1)),
                                               "reason": ""}).status_code == 422


def test_an_extension_never_leaves_a_student_worse_off(live):
    staff = live.client(live.add_user("worse-prof", Role.INSTRUCTOR))
    student = live.client(live.add_user("worse-student", Role.STUDENT))
    # no deadline at all: an extension that has passed does not make one for them
    assert staff.patch("/assignments/ee411-hw3", json={
        "deadline": None, "late_policy": "reject"}).status_code == 200
    staff.put("/assignments/ee411-hw3/extensions/worse-student", json={
        "deadline": _iso(-timedelta(days=3)), "reason": "granted in error"})
    assert submit(student, "correct_basic.ipynb").status_code == 202
    # an "extension" to before the assignment's own deadline changes nothing
    assert staff.patch("/assignments/ee411-hw3", json={
        "deadline": _iso(timedelta(days=1))}).status_code == 200
    assert submit(student, "correct_basic.ipynb").json()["late_days"] == 0
