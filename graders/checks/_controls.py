"""What the kinds' controls (``CheckKind.controls``) are built from: a check in a question
of its own, a reference solution, and the evidence a real kernel sends for a piece of
work (its records in the kernel's wire format, the notebook's cells, the calibration).

Nothing here grades: a control is scored by its kind's own scorer, exactly as a hand-in.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import ModuleType
from typing import Any

import numpy as np

from graders.checks.base import Evidence
from graders.inputs import PlannedCall, plan_calls
from graders.results import (
    CallStatus,
    Candidate,
    CellRecord,
    CellStatus,
    CellSummary,
    ProbeRecord,
)
from graders.scoring.function import ReferenceCache
from graders.scoring.models.context import ModelContext
from graders.spec import (
    Assignment,
    Check,
    HiddenSet,
    Question,
)

REQUEST = "model:0"  # the kernel request that answers a control's check
SEED = 7


def reference(**answers: Any) -> ModuleType:
    """A reference solution: the functions and answers the check reads from solution.py."""
    module = ModuleType("control_reference")
    module.__dict__.update(answers)
    return module


def question_for(*checks: Check, section: str | None = None,
                 prompt: str | None = None) -> Question:
    return Question(id="q", title="control", points=sum(c.points for c in checks),
                    checks=checks, section=section, prompt=prompt)


# ------------------------------------------------------------------- the wire format
def wire(value: Any) -> Any:
    """``value`` as the kernel sends it (``encode`` in graders/kernel/probe.py, which the
    trusted side never imports): numpy arrays as .npy bytes, dicts with their type."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": value}
    if isinstance(value, float):  # np.float64 too, as in the kernel
        return {"t": "float", "v": value if math.isfinite(value) else str(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        buffer = io.BytesIO()
        np.save(buffer, array if array.ndim == 0 else np.ascontiguousarray(array),
                allow_pickle=False)
        return {"t": "array", "npy": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "src": f"numpy.{type(value).__name__}[{array.dtype}]"}
    if isinstance(value, list | tuple):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "items": [wire(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "src": "builtins.dict",
                "items": [[str(k), wire(v)] for k, v in value.items()]}
    raise TypeError(f"the kernel sends no {type(value).__name__}")


def answered(payload: Any, symbol: str = "evaluate") -> dict[tuple[str, int], ProbeRecord]:
    """The kernel's answer to the check's request."""
    return {(REQUEST, 0): ProbeRecord(call_id=REQUEST, symbol=symbol, candidate=0,
                                      status=CallStatus.OK, value=wire(payload))}


def failed(status: CallStatus, error: str, symbol: str = "evaluate"
           ) -> dict[tuple[str, int], ProbeRecord]:
    """The request did not finish: it raised, or ran past its limit."""
    return {(REQUEST, 0): ProbeRecord(call_id=REQUEST, symbol=symbol, candidate=0,
                                      status=status, error=error)}


# -------------------------------------------------------------------- function calls
def planned(question: Question, index: int = 0) -> list[PlannedCall]:
    """The calls the host plans for the question's check ``index`` (and their layouts)."""
    spec = Assignment(id="controls", title="controls", questions=(question,))
    return [c for c in plan_calls(spec, SEED) if c.check_index == index]


def called(calls: Iterable[PlannedCall], work: Callable[..., Any]
           ) -> dict[tuple[str, int], ProbeRecord]:
    """What the kernel records when it calls ``work`` (candidate 0) on each planned call:
    its value, or the exception it raised."""
    records = {}
    for call in calls:
        try:
            with np.errstate(all="ignore"):  # overflow in a naive exp gives inf, not a raise
                value = work(*call.fresh_args())
        except Exception as exc:  # the student's exception is the evidence
            record = ProbeRecord(call_id=call.call_id, symbol=call.symbol, candidate=0,
                                 status=CallStatus.ERROR, error=f"{type(exc).__name__}: {exc}")
        else:
            record = ProbeRecord(call_id=call.call_id, symbol=call.symbol, candidate=0,
                                 status=CallStatus.OK, value=wire(value))
        records[(call.call_id, 0)] = record
    return records


def timed_out(calls: Sequence[PlannedCall], limit_s: float = 10.0
              ) -> dict[tuple[str, int], ProbeRecord]:
    """The first call ran past its limit; the kernel then skips the candidate's others."""
    records = {}
    for i, call in enumerate(calls):
        error = f"did not return within {limit_s:g} s" if i == 0 else \
            "not called: an earlier call to it timed out"
        records[(call.call_id, 0)] = ProbeRecord(call_id=call.call_id, symbol=call.symbol,
                                                 candidate=0, status=CallStatus.TIMEOUT,
                                                 error=error)
    return records


def undefined(calls: Iterable[PlannedCall]) -> dict[tuple[str, int], ProbeRecord]:
    """The graded name was never bound: one record per call, for no candidate (-1)."""
    return {(c.call_id, -1): ProbeRecord(call_id=c.call_id, symbol=c.symbol, candidate=-1,
                                         status=CallStatus.MISSING) for c in calls}


def candidate(symbol: str, source: str | None = None,
              helpers: Mapping[str, str] | None = None) -> dict[tuple[str, int], Candidate]:
    """The one binding of ``symbol`` the kernel saw, with its source and its helpers'."""
    return {(symbol, 0): Candidate(symbol=symbol, index=0, cell=2, source=source,
                                   helpers=dict(helpers or {}))}


# -------------------------------------------------------------------------- notebooks
def md(text: str) -> CellSummary:
    """A markdown cell (its index is set by ``notebook``)."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    heading = first.lstrip("#").strip() if first.startswith("#") else None
    level = len(first) - len(first.lstrip("#")) if heading else 0
    return CellSummary(index=-1, kind="markdown", heading=heading, level=level, markdown=text)


def code(source: str, *, text: str = "", images: int = 0) -> CellSummary:
    """A code cell, with what it printed and the images it showed."""
    return CellSummary(index=-1, kind="code", source=source, text=text, images=images)


def notebook(*cells: CellSummary) -> tuple[CellSummary, ...]:
    return tuple(c.model_copy(update={"index": i}) for i, c in enumerate(cells))


def ran(cells: Sequence[CellSummary],
        failures: Mapping[int, tuple[CellStatus, str]] | None = None) -> tuple[CellRecord, ...]:
    """How each code cell ran: completed, except the ``failures`` by index."""
    records = []
    for cell in cells:
        if cell.kind != "code":
            continue
        failure = (failures or {}).get(cell.index)
        records.append(CellRecord(index=cell.index, status=CellStatus.OK) if failure is None
                       else CellRecord(index=cell.index, status=failure[0], error=failure[1]))
    return tuple(records)


@dataclass(frozen=True)
class _HeldLabels(ModelContext):
    """A context whose hidden labels are given rather than read from the grader's hidden
    directory: a control holds no files."""

    held: tuple[int, ...] = ()
    # other sets' labels, by name (a question that allows other training data)
    held_elsewhere: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def labels_of(self, data: HiddenSet) -> np.ndarray:
        held = dict(self.held_elsewhere).get(data.name, self.held)
        labels = np.asarray(held, dtype=np.int64)
        labels.setflags(write=False)
        return labels


def context(*, cells: Sequence[CellSummary] = (), records: Sequence[CellRecord] | None = None,
            calibration: Mapping[str, float] | None = None,
            labels: np.ndarray | None = None, values: tuple[Any, ...] = (),
            labels_elsewhere: Mapping[str, np.ndarray] | None = None) -> ModelContext:
    """What the host knows of the notebook besides the check's own evidence."""
    records = ran(cells) if records is None else records
    if labels is None:
        return ModelContext(hidden_dir=None, calibration=calibration or {}, cells=cells,
                            records=records, values=values)
    return _HeldLabels(hidden_dir=None, calibration=calibration or {}, cells=cells,
                       records=records, held=tuple(int(x) for x in labels), values=values,
                       held_elsewhere=tuple((name, tuple(int(x) for x in held)) for
                                            name, held in (labels_elsewhere or {}).items()))


def evidence(question: Question, *, index: int = 0, solution: ModuleType | None = None,
             candidate: int | None = 0,
             candidates: Mapping[tuple[str, int], Candidate] | None = None,
             calls: Sequence[PlannedCall] = (),
             records: Mapping[tuple[str, int], ProbeRecord] | None = None,
             models: ModelContext | None = None, correct_so_far: bool = True) -> Evidence:
    """The evidence the scorer reads for the question's check ``index``."""
    return Evidence(question=question, index=index, candidate=candidate,
                    candidates=candidates or {}, calls=calls, records=records or {},
                    cache=ReferenceCache(solution or reference()),
                    models=models if models is not None else context(),
                    request=REQUEST, correct_so_far=correct_so_far)


# ------------------------------------------------------------------------ the models
def linear_net(sizes: Sequence[int], forward: str, *, cls: str = "Net") -> dict[str, Any]:
    """An MLP as the kernel describes it (``describe`` in probe_torch): its leaves, its
    parameter count, its forward's source."""
    leaves = [{"name": f"fc{i + 1}", "type": "Linear", "in_features": a, "out_features": b}
              for i, (a, b) in enumerate(pairwise(sizes))]
    parameters = sum(a * b + b for a, b in pairwise(sizes))
    return {"class": cls, "leaves": leaves, "parameters": parameters,
            "forward_source": forward}


def predictions(labels: np.ndarray, accuracy: float, classes: int) -> np.ndarray:
    """Class predictions right on exactly ``accuracy`` of ``labels`` (the first ones wrong,
    each answering another class in turn: a network's mistakes are spread, not one
    renaming of the classes)."""
    preds = labels.astype(np.int64).copy()
    wrong = round((1.0 - accuracy) * labels.size)
    shift = 1 + np.arange(wrong) % max(1, classes - 1)
    preds[:wrong] = (preds[:wrong] + shift) % classes
    return preds
