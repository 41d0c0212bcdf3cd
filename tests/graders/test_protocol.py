"""The kernel <-> host protocol, without a sandbox: the kernel's own probe code runs here
in a private module, its messages are validated against ``graders.protocol``, and the
pipeline scores them through the ``ReplayExecutor``."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from graders.inputs import plan_calls
from graders.pipeline.grade import grade_submission
from graders.pipeline.staging import write_plan
from graders.protocol import CandidatesMessage, ResultMessage, StartMessage, parse_message
from graders.results import CallStatus, Candidate, ProbeRecord
from graders.runner.executor import ReplayExecutor
from graders.runner.kernel_code import BOUNDARY_SOURCE, PROBE_SOURCE
from tests.conftest import TEST_LIMITS, make_notebook

SOLUTION_CELLS = '''
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def predict(X, W):
    z_1 = X @ W["w_1"]
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
'''


def _notebook_namespace() -> dict:
    """The cells run as IPython runs them: source kept in linecache, so it can be read."""
    import linecache

    name = "<ipython-input-1>"
    linecache.cache[name] = (len(SOLUTION_CELLS), None, SOLUTION_CELLS.splitlines(True), name)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SOLUTION_CELLS, name, "exec"), namespace)
    return namespace


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The probe module as the kernel builds it, with its output captured."""
    boundary = types.ModuleType("_autograder_boundary")
    exec(compile(BOUNDARY_SOURCE, "<boundary>", "exec"), boundary.__dict__)
    monkeypatch.setitem(sys.modules, "_autograder_boundary", boundary)
    monkeypatch.delitem(sys.modules, "__autograder_registry__", raising=False)
    probe = types.ModuleType("_autograder_probe")
    exec(compile(PROBE_SOURCE, "<probe>", "exec"), probe.__dict__)
    probe.sent = []
    probe._emit = probe.sent.append
    return probe


def _probe(kernel: types.ModuleType, ee411, tmp_path: Path, namespace: dict) -> list:
    calls = plan_calls(ee411.spec, seed=5)
    write_plan(tmp_path, calls, ee411.spec.symbols, models=[])
    kernel.snapshot(namespace, list(ee411.spec.symbols), 0)  # the notebook's one cell
    kernel.run(str(tmp_path / "plan.json"), namespace, "n0nce")
    return calls


def test_every_message_the_kernel_sends_fits_the_protocol(kernel, ee411, tmp_path):
    namespace = _notebook_namespace()
    _probe(kernel, ee411, tmp_path, namespace)
    parsed = [parse_message(m) for m in kernel.sent]
    assert parsed and None not in parsed
    assert isinstance(parsed[0], CandidatesMessage)
    kinds = {type(m) for m in parsed}
    assert kinds == {CandidatesMessage, StartMessage, ResultMessage}
    results = [m for m in parsed if isinstance(m, ResultMessage)]
    assert {m.status for m in results if m.symbol == "predict"} == {CallStatus.OK}
    assert {m.status for m in results if m.symbol == "gradient"} == {CallStatus.MISSING}


@pytest.mark.parametrize("forged", [
    {"kind": "result", "nonce": "n", "call_id": "x", "symbol": "s", "candidate": 0,
     "status": "perfect"},  # a status the protocol does not have
    {"kind": "candidates", "nonce": "n", "candidates": [{"symbol": "s"}] * 65},  # too many
    {"kind": "verdict", "nonce": "n", "score": 100},  # a kind the protocol does not have
    {"kind": "start", "nonce": "n"},  # fields missing
    ["not", "a", "dict"],
])
def test_a_message_outside_the_protocol_is_dropped(forged):
    assert parse_message(forged) is None


def test_long_strings_from_the_kernel_are_cut_not_trusted():
    msg = parse_message({"kind": "result", "nonce": "n", "call_id": "c" * 10_000,
                         "symbol": "s", "candidate": 0, "status": "error",
                         "error": "e" * 100_000})
    assert isinstance(msg, ResultMessage)
    assert len(msg.call_id) == 200 and msg.error is not None and len(msg.error) == 2000


def test_replayed_probe_records_are_scored_without_a_sandbox(kernel, ee411, tmp_path,
                                                             sandbox_config):
    namespace = _notebook_namespace()
    _probe(kernel, ee411, tmp_path, namespace)
    parsed = [parse_message(m) for m in kernel.sent]
    candidates: list[Candidate] = next(
        m.candidates for m in parsed if isinstance(m, CandidatesMessage))
    records = [ProbeRecord(call_id=m.call_id, symbol=m.symbol, candidate=m.candidate,
                           status=m.status, value=m.value, error=m.error)
               for m in parsed if isinstance(m, ResultMessage)]
    replay = ReplayExecutor(candidates=candidates, records=records)
    graded = grade_submission(make_notebook(SOLUTION_CELLS), "replay.ipynb", assignment=ee411,
                              config=sandbox_config, limits=TEST_LIMITS, seed=5,
                              executor=replay)
    assert replay.calls == 1
    by_id = {q.id: q for q in graded.report.questions}
    assert by_id["1.1"].points == by_id["1.1"].max_points, by_id["1.1"].feedback
    assert by_id["1.5"].points == 0 and by_id["1.5"].outcome.value == "missing"
    # per-check results add up to the question's points
    for q in graded.report.questions:
        if q.checks:
            assert sum(c.points for c in q.checks) == pytest.approx(q.points)


def test_the_unpacker_refuses_what_would_exhaust_the_stack_or_the_memory():
    from graders.runner.client import DROPPED, MAX_MESSAGE_BYTES, bounded_unpack

    assert bounded_unpack(b'{"a": [1, 2]}') == {"a": [1, 2]}
    deep = b"[" * 100_000 + b"]" * 100_000
    assert bounded_unpack(deep) == {DROPPED: "a message nested too deeply"}
    huge = b'"' + b"x" * MAX_MESSAGE_BYTES + b'"'
    assert DROPPED in bounded_unpack(huge)
