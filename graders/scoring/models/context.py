"""What every trained-model scorer shares: the context (hidden labels, calibration,
cells) and the reading of the model probe's answer."""

from __future__ import annotations

import io
import re
import textwrap
import tokenize
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from graders.errors import SpecError
from graders.hidden import hidden_labels
from graders.results import CallStatus, CellRecord, CellSummary, ProbeRecord
from graders.scoring.function import CheckScore, Fault
from graders.scoring.sections import Section, locate, question_letter, question_number
from graders.scoring.values import WireFormatError, decode_plain
from graders.spec import HiddenSet, ModelAccuracyCheck, ModelLocator, Question

REQUIRES = {
    "relu": (("ReLU",), ("relu",)),
    "max_pool": (("MaxPool2d", "MaxPool1d"), ("max_pool", "maxpool")),
    "dropout": (("Dropout", "Dropout2d"), ("dropout",)),
    "batch_norm": (("BatchNorm1d", "BatchNorm2d"), ("batch_norm", "batchnorm")),
    "sigmoid": (("Sigmoid",), ("sigmoid",)),
}


@dataclass(frozen=True)
class ModelContext:
    """What scorers read besides their own check's evidence: the notebook's cells, the
    calibration, where the hidden labels are. Frozen: a scorer cannot leave anything here
    for another to read; what it measures it returns in its ``CheckScore``."""

    hidden_dir: Path | None
    calibration: Mapping[str, float]
    cells: Sequence[CellSummary]
    calibrating: bool = False
    records: Sequence[CellRecord] = ()
    # the files handed in beside the notebook (a group's scanned notes), by name
    handed_in: Sequence[str] = ()
    # every question's prompt: a sub-question's answer ends where the next one's begins
    prompts: tuple[str, ...] = ()
    question: Question | None = None  # the question being scored (see ``for_question``)
    # every question of the assignment: where each begins parts the notebook (a name
    # bound again after another question's start answers that one, not a draft)
    questions: tuple[Question, ...] = ()
    # the cells each plot question's own heading claims: a question whose heading is not
    # found may not take another question's figures for its own
    claimed: tuple[tuple[str, frozenset[int]], ...] = ()
    # each architecture check's question and layers, in the assignment's order: a later
    # question that names the same layers again (a bonus adding batch norm to the VGG
    # of an earlier one) does not charge, or pay for, the layers a second time
    architectures: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    # every value answer the assignment asks for (ValueChecks): a number found while
    # looking for one intermediate of a trace may be another's
    values: tuple[Any, ...] = ()

    def for_question(self, question: Question) -> ModelContext:
        return replace(self, question=question)

    def section(self, pattern: str | None) -> Section:
        """The cells answering the current question (a check may name its own heading
        pattern); the whole notebook, with a note, when nothing matches."""
        question = self.question
        if question is None:
            return locate(self.cells, section=pattern)
        return locate(self.cells, section=pattern or question.section,
                      number=question_number(question.id), prompt=question.prompt,
                      anchors=question.anchors, letter=question_letter(question.id))

    def claimed_elsewhere(self) -> frozenset[int]:
        """Cells other questions' own headings claim."""
        mine = self.question.id if self.question is not None else None
        return frozenset(i for qid, cells in self.claimed if qid != mine for i in cells)

    def layers_graded_before(self, layers: tuple[Any, ...]) -> str | None:
        """The earlier question whose architecture check grades these layers already."""
        mine = self.question.id if self.question is not None else None
        for qid, graded in self.architectures:
            if qid == mine:
                return None
            if graded == layers:
                return qid
        return None

    def labels(self, check: ModelAccuracyCheck) -> np.ndarray:
        if self.hidden_dir is None:
            raise SpecError("the hidden test sets are not configured")
        stat = (self.hidden_dir / f"{check.data.name}.npz").stat()
        return _labels(self.hidden_dir, check.data, (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=16)
def _labels(hidden_dir: Path, data: HiddenSet, stamp: tuple[int, int]) -> np.ndarray:
    # a memo of reading a file the grader owns (keyed by its stamp, so a replaced file is
    # read again), not state between scorers
    labels = hidden_labels(hidden_dir, data)[1]
    labels.setflags(write=False)
    return labels


# the model probe's answer, decoded once per grading however many checks read it. Keyed
# by the record's identity; the entry holds the record, so the id cannot be reused while
# it is cached. Scorers only read the payload.
_DECODED: OrderedDict[int, tuple[ProbeRecord, Any]] = OrderedDict()


def decoded(record: ProbeRecord) -> Any:
    """A model probe's payload, decoded once per grading (WireFormatError: unreadable)."""
    hit = _DECODED.get(id(record))
    if hit is not None and hit[0] is record:
        return hit[1]
    payload = decode_plain(record.value)
    _DECODED[id(record)] = (record, payload)
    while len(_DECODED) > 16:
        _DECODED.popitem(last=False)
    return payload


def _payload(record: ProbeRecord | None) -> tuple[Any, CheckScore | None]:
    if record is None:
        return None, CheckScore(0.0, ["the model probes did not run (see the execution "
                                      "summary)"], Fault.ERRORED)
    if record.status is CallStatus.TIMEOUT:
        return None, CheckScore(0.0, [f"evaluating the models {record.error}"],
                                Fault.TIMED_OUT)
    if record.status is not CallStatus.OK:
        return None, CheckScore(0.0, [f"evaluating the models failed: {record.error}"],
                                Fault.ERRORED)
    try:
        return decoded(record), None
    except WireFormatError as exc:
        return None, CheckScore(0.0, [f"the model probe's answer was unreadable ({exc})"],
                                Fault.ERRORED)


def as_run(candidate: dict[str, Any]) -> dict[str, Any]:
    """The candidate's architecture as its forward pass ran it: the leaf modules it
    called, in the order it called them, and the names of those it never called (an
    ``nn.ReLU`` defined beside a forward that applies the sigmoid is no ReLU). As
    described when the run did not say."""
    arch, forward = candidate.get("architecture"), candidate.get("forward")
    called = forward.get("called") if isinstance(forward, dict) else None
    if not isinstance(arch, dict) or not isinstance(called, list) or not called:
        return candidate
    # a leaf the run could not watch (scripted, or past the first 400) counts as called
    unwatched = forward.get("unwatched") if isinstance(forward, dict) else None
    unwatched = unwatched if isinstance(unwatched, list) else []
    called = [*called, *unwatched]
    leaves = [leaf for leaf in arch.get("leaves") or () if isinstance(leaf, dict)]
    by_name = {leaf.get("name"): leaf for leaf in leaves}
    ran = [by_name[n] for n in dict.fromkeys(called) if isinstance(n, str) and n in by_name]
    unused = [str(leaf.get("name")) for leaf in leaves if leaf.get("name") not in set(called)]
    return {**candidate, "architecture": {**arch, "leaves": ran, "unused": unused}}


def _eligible(payload: dict[str, Any], locate: ModelLocator,
              include_untrained: bool = False) -> list[dict[str, Any]]:
    found = [as_run(c) for c in payload.get("candidates", []) if isinstance(c, dict)]
    if locate.requires:
        # the network the question names, not any network of the notebook
        found = [c for c in found if isinstance(c.get("architecture"), dict)
                 and all(computes(c["architecture"], need) for need in locate.requires)]
    if locate.excludes:
        found = [c for c in found if isinstance(c.get("architecture"), dict)
                 and not any(computes(c["architecture"], x) for x in locate.excludes)]
    if not include_untrained:
        # a fresh instance of a notebook class shows an architecture, not training
        found = [c for c in found if not str(c.get("label", "")).startswith("class:")]
    if locate.source == "memory":
        found = [c for c in found if str(c.get("label", "")).startswith(("var:", "class:"))]
    elif locate.source == "saved":
        found = [c for c in found if str(c.get("label", "")).startswith("file:")]

    def rank(c: dict[str, Any]) -> int:
        name = str(c.get("label", "")).split(":", 1)[-1]
        cls = (c.get("architecture") or {}).get("class")
        return 0 if name in locate.names or cls in locate.classes else 1

    return sorted(found, key=rank)


def _where(c: dict[str, Any]) -> str:
    label = str(c.get("label", ""))
    kind, _, name = label.partition(":")
    if kind == "class":
        return f"a new instance of your class `{name}`"
    if kind == "file":
        return f"the saved file {name}"
    cell = c.get("earlier_cell")
    if isinstance(cell, int) and not isinstance(cell, bool):
        # the kernel kept it when a later cell bound the name to another model
        return f"`{name}` as it stood after cell {cell + 1} (a later cell rebinds the name)"
    return f"`{name}`"


def _accuracy(preds: Any, labels: np.ndarray) -> float | None:
    if not isinstance(preds, np.ndarray) or preds.shape != labels.shape:
        return None
    return float(np.mean(preds.astype(np.int64) == labels))


def _no_model(locate: ModelLocator) -> CheckScore:
    what = "a saved model file (torch.save)" if locate.source == "saved" else \
        "a trained torch.nn.Module in the notebook's variables"
    if locate.framework == "vugrad":
        what = ("a trained vugrad Module in the notebook's variables (library files handed "
                "in alone hold no trained network)")
    if locate.requires:
        what += " that uses " + " and ".join(n.replace("_", " ") for n in locate.requires)
    return CheckScore(0.0, [f"no model found: expected {what}"], Fault.MISSING)


def computes(arch: dict[str, Any], need: str) -> bool:
    """Whether a model computes ``need`` ("relu", "max_pool", ...): a module of its kind or
    a call in forward's code (torch), or an op of that name its forward pass went through
    (vugrad: the graph behind its output)."""
    modules, calls = REQUIRES[need]
    ops = [str(op).lower() for op in arch.get("ops") or ()]
    if any(c.replace("_", "") in op.replace("_", "") and "leaky" not in op
           for op in ops for c in calls):
        return True
    types = {leaf.get("type") for leaf in arch.get("leaves") or () if isinstance(leaf, dict)}
    source = _code(str(arch.get("forward_source", ""))).lower()
    return bool(types & set(modules)) or any(
        re.search(rf"(?<!\w){c}\w*\s*\(", source) for c in calls)


@lru_cache(maxsize=32)  # forward's code is read for every operation a check asks about
def _code(source: str) -> str:
    """Forward's code without its comments and strings: a commented-out ``F.relu`` is no
    ReLU (and ``leaky_relu(`` is no call of ``relu``, which the caller sees to)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline))
    except (tokenize.TokenError, SyntaxError):  # cut off mid-statement (the kernel caps it)
        return re.sub(r"#[^\n]*", "", source)
    return " ".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
