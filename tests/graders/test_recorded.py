"""The recorded evidence the scorer tests replay: current, complete, and scored now as it
was scored when the sandbox produced it.

The last test is the guard for changes to scoring: a refactor of the scorers must give
every recorded hand-in the points it had (a rubric change that means to move them
records again with ``make record`` and says so in its commit).
"""

from __future__ import annotations

import json

import pytest

from graders.catalog import discover
from tests import evidence

CATALOG = discover()
RECORDED = [(a, n) for a, (_, names) in sorted(evidence.MANIFEST.items()) for n in names] + [
    (a, evidence.REFERENCE) for a in sorted(CATALOG) if CATALOG[a].spec.reference_notebook]


def test_every_assignment_with_a_reference_notebook_has_recorded_hand_ins():
    with_notebook = {a for a in CATALOG if CATALOG[a].spec.reference_notebook}
    assert with_notebook <= set(evidence.MANIFEST), with_notebook - set(evidence.MANIFEST)


def test_a_recording_from_other_kernel_code_is_refused(tmp_path, fixture_data, monkeypatch):
    hidden = fixture_data / "hidden"
    assignment_id, name = RECORDED[0]
    original = evidence.path_of(assignment_id, name)
    copy = tmp_path / assignment_id / f"{name}.json"
    copy.parent.mkdir()
    copy.write_text(original.read_text().replace(
        f'"evidence_version": "{evidence.evidence_version()}"',
        '"evidence_version": "0000000000000000"'))
    monkeypatch.setattr(evidence, "RECORDINGS", tmp_path)
    with pytest.raises(evidence.StaleRecording, match="kernel-side code changed"):
        evidence.load(assignment_id, name, hidden)


@pytest.mark.parametrize(("assignment_id", "name"), RECORDED)
def test_replayed_evidence_scores_what_the_sandbox_run_scored(assignment_id, name,
                                                             fixture_data):
    hidden = fixture_data / "hidden"
    recording = evidence.load(assignment_id, name, hidden)
    calibration = recording.measured if name == evidence.REFERENCE else None
    replayed = recording.replay(CATALOG[assignment_id], hidden, calibration)
    assert {q.id: q.points for q in replayed.questions} == \
        {q.id: q.points for q in recording.report.questions}


POINTS = evidence.RECORDINGS / "points.json"


@pytest.mark.parametrize(("assignment_id", "name"), RECORDED)
def test_replayed_points_match_the_table_kept_across_refactors(assignment_id, name,
                                                               fixture_data):
    # tests/recordings/points.json was written before the scorers became kinds over one
    # evidence record; `make record` never rewrites it: a change that means to move
    # points edits it by hand, in the same commit, and says why
    table = json.loads(POINTS.read_text())
    hidden = fixture_data / "hidden"
    recording = evidence.load(assignment_id, name, hidden)
    calibration = recording.measured if name == evidence.REFERENCE else None
    replayed = recording.replay(CATALOG[assignment_id], hidden, calibration)
    assert {q.id: q.points for q in replayed.questions} == table[assignment_id][name]
