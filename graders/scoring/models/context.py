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
from graders.spec import (
    Conv2d,
    HiddenSet,
    Layer,
    Linear,
    ModelAccuracyCheck,
    ModelLocator,
    Question,
    ReportedAccuracyCheck,
    SavedModelCheck,
)

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

    def network(self) -> tuple[Any, ...]:
        """The layers of the network the current question is about: its own architecture
        check's, else the nearest earlier question's (TUM's 2.3 trains 2.2's MLP); empty
        when the assignment names none."""
        if self.question is None:
            return ()
        order = [q.id for q in self.questions]
        mine = order.index(self.question.id) if self.question.id in order else -1
        found = [layers for qid, layers in self.architectures
                 if qid in order and order.index(qid) <= mine and layers]
        return found[-1] if found else ()

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

    def labels(self, check: ModelAccuracyCheck | SavedModelCheck | ReportedAccuracyCheck
               ) -> np.ndarray:
        if check.data is None:
            raise SpecError("the hidden test sets are not configured")
        return self.labels_of(check.data)

    def labels_of(self, data: HiddenSet) -> np.ndarray:
        if self.hidden_dir is None:
            raise SpecError("the hidden test sets are not configured")
        stat = (self.hidden_dir / f"{data.name}.npz").stat()
        return _labels(self.hidden_dir, data, (stat.st_mtime_ns, stat.st_size))


def matches_layer(leaf: dict[str, Any], layer: Any) -> bool:
    """A described leaf is the spec's layer (None in the spec matches any size)."""
    if isinstance(layer, Layer):
        return bool(leaf.get("type") == layer.name)
    if isinstance(layer, Linear):
        return leaf.get("type") == "Linear" and all(
            want is None or leaf.get(attr) == want for attr, want in
            (("in_features", layer.in_features), ("out_features", layer.out_features)))
    k = leaf.get("kernel_size")
    k = k[0] if isinstance(k, list) and k else k
    return leaf.get("type") == "Conv2d" and all(
        want is None or got == want for got, want in
        ((leaf.get("in_channels"), layer.in_channels),
         (leaf.get("out_channels"), layer.out_channels), (k, layer.kernel_size)))


def fits_layers(arch: Any, layers: tuple[Any, ...]) -> bool:
    """The model's linear and convolutional layers are the spec's, in order."""
    leaves = [leaf for leaf in (arch.get("leaves") or () if isinstance(arch, dict) else ())
              if isinstance(leaf, dict) and leaf.get("type") in ("Linear", "Conv2d", "Conv1d")]
    wanted = [layer for layer in layers if isinstance(layer, Linear | Conv2d)]
    return bool(wanted) and len(leaves) == len(wanted) and all(
        matches_layer(leaf, layer) for leaf, layer in zip(leaves, wanted, strict=True))


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
    called, in the order it called them, the names of those it never called (an
    ``nn.ReLU`` defined beside a forward that applies the sigmoid is no ReLU), and the
    torch functions the pass called. A leaf computing with a forward of its own (a class
    named ``ReLU`` that applies the sigmoid, ``nn.ReLU.forward`` replaced) is not its
    torch type; a model whose forward was set on the instance and runs none of its own
    layers (``net.forward = other.forward``) has none. As described when the run did
    not say."""
    arch, forward = candidate.get("architecture"), candidate.get("forward")
    if not isinstance(arch, dict):
        return candidate
    leaves = [leaf if leaf.get("genuine") is not False else
              {**leaf, "type": f"{leaf.get('type')} (own forward)"}
              for leaf in arch.get("leaves") or () if isinstance(leaf, dict)]
    arch = {**arch, "leaves": leaves}
    forward = forward if isinstance(forward, dict) else {}
    functions = forward.get("functions")
    if isinstance(functions, list):
        arch["functions"] = [str(f) for f in functions[:400]]
    # the calls the output descends from, where the kernel could follow every one: a
    # ReLU computed only for a statistic beside the network does not make it a ReLU net
    on_path = forward.get("on_path")
    if isinstance(on_path, list) and isinstance(functions, list):
        arch["functions"] = [str(f) for f in on_path[:400]]
    samples = forward.get("samples")
    if isinstance(samples, dict):
        arch["leaf_samples"] = {str(k): v for k, v in list(samples.items())[:64]
                                if isinstance(v, dict)}
    sequence = forward.get("sequence")
    if isinstance(sequence, list):
        arch["sequence"] = [str(n) for n in sequence[:2000]]
    if forward.get("hooked") is True:
        arch["hooked"] = True
    if forward.get("watched") is True:
        arch["watched"] = True
    called = forward.get("called")
    if arch.get("own_forward") is True and isinstance(called, list) and not called \
            and "outputs" in forward:
        return {**candidate, "architecture": {
            **arch, "leaves": [], "replaced_forward": True,
            "unused": [str(leaf.get("name")) for leaf in leaves]}}
    if not isinstance(called, list) or not called:
        return {**candidate, "architecture": arch}
    # a leaf the run could not watch (scripted, or past the first 400) counts as called
    unwatched = forward.get("unwatched")
    unwatched = unwatched if isinstance(unwatched, list) else []
    called = [*called, *unwatched]
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


# a numbering of the classes other than the grader's counts only when it is plainly the
# network's: it must beat the grader's numbering by this much (a network that learned
# nothing gains a few points from the best of many numberings, by luck)
RELABEL_GAIN = 0.15


def relabelled(preds: Any, labels: np.ndarray) -> tuple[float, dict[int, int]] | None:
    """The accuracy under the one-to-one renaming of predicted labels to the grader's
    classes that agrees best (a notebook numbering ship, cat, dog as 0, 1, 2, or keeping
    CIFAR's ids 3, 5, 8 on ten outputs), and that renaming; None when the predictions
    are not one label per image."""
    from scipy.optimize import linear_sum_assignment

    if not isinstance(preds, np.ndarray) or preds.shape != labels.shape or not labels.size \
            or preds.dtype.kind not in "iu":
        return None
    predicted = np.unique(preds)
    if predicted.size > 1000:
        return None
    classes = np.unique(labels)
    table = np.zeros((predicted.size, classes.size), dtype=np.int64)
    np.add.at(table, (np.searchsorted(predicted, preds), np.searchsorted(classes, labels)), 1)
    rows, cols = linear_sum_assignment(-table)
    mapping = {int(predicted[r]): int(classes[c]) for r, c in zip(rows, cols, strict=True)}
    return float(table[rows, cols].sum() / labels.size), mapping


def _no_model(locate: ModelLocator) -> CheckScore:
    what = "a saved model file (torch.save)" if locate.source == "saved" else \
        "a trained torch.nn.Module in the notebook's variables"
    if locate.framework == "vugrad":
        what = ("a trained vugrad Module in the notebook's variables (library files handed "
                "in alone hold no trained network)")
    if locate.requires:
        what += " that uses " + " and ".join(n.replace("_", " ") for n in locate.requires)
    return CheckScore(0.0, [f"no model found: expected {what}"], Fault.MISSING)


# what an element-wise op of that kind gives for its input
_BEHAVIOUR = {
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500))),
}


def _computed(sample: Any, behaves: Any) -> bool | None:
    """Whether the op's sampled outputs are ``behaves`` of its inputs; None when the
    sample cannot tell (none sent, or inputs all of one sign: a ReLU and the identity
    agree where nothing is negative)."""
    if not isinstance(sample, dict):
        return None
    x, y = sample.get("x"), sample.get("y")
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.shape != y.shape \
            or not x.size or x.dtype.kind != "f" or y.dtype.kind != "f" \
            or not (np.any(x < -1e-3) and np.any(x > 1e-3)):
        return None
    return bool(np.allclose(y, behaves(x), rtol=1e-5, atol=1e-7))


def _never_negative(sample: Any) -> bool:
    """The op's sampled inputs (16 or more) are all positive: none it could zero. (A
    ReLU that zeroes its input array in place leaves zeros where the negatives were:
    that one cannot be told from a working ReLU, and is not taken for the identity.)"""
    x = sample.get("x") if isinstance(sample, dict) else None
    return isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size >= 16 \
        and bool(np.all(x > 0))


def computes(arch: dict[str, Any], need: str) -> bool:
    """Whether a model computes ``need`` ("relu", "max_pool", ...): a module of its kind or
    a call in forward's code (torch), or an op of that name its forward pass went through
    (vugrad: the graph behind its output)."""
    modules, calls = REQUIRES[need]
    ops = [str(op) for op in arch.get("ops") or ()]
    samples = arch.get("op_samples")
    samples = samples if isinstance(samples, dict) else {}
    behaves = _BEHAVIOUR.get(need)
    for op in ops:
        sample = samples.get(op)
        verdict = _computed(sample, behaves) if behaves is not None else None
        if verdict is not None:
            # what the op gave on the pass decides, not what it is called: a sigmoid op
            # named ReLUActivation computes a sigmoid
            if verdict:
                return True
            continue
        if need == "relu" and _never_negative(sample):
            # a ReLU only ever given positive inputs (put after a sigmoid) is the
            # identity on this pass: it makes no ReLU network
            continue
        lower = op.lower()
        if any(c.replace("_", "") in lower.replace("_", "") and "leaky" not in lower
               for c in calls):
            return True
    functions = arch.get("functions")
    leaf_samples = arch.get("leaf_samples")
    leaf_samples = leaf_samples if isinstance(leaf_samples, dict) else {}
    if isinstance(functions, list):
        # the torch functions the forward pass called (a layer's forward calls its
        # function too), or a layer of the pass seen to compute it (a student's own
        # ReLU module written with clamp): what ran, not what the source mentions or
        # the layers are named
        return any(re.match(rf"_*{c}", str(f).lower()) and "leaky" not in str(f).lower()
                   for f in functions for c in calls) or (behaves is not None and any(
                       _computed(sample, behaves) for sample in leaf_samples.values())) \
            or (need == "relu" and _clamped_at_zero(arch, functions))
    # a layer of the kind seen to compute something else on the pass (an nn.ReLU whose
    # forward was replaced by a sigmoid, however its class is made to look) is not one
    genuine = [leaf for leaf in arch.get("leaves") or ()
               if isinstance(leaf, dict) and leaf.get("genuine") is not False]
    contradicted = [leaf for leaf in genuine if leaf.get("type") in modules
                    and behaves is not None and _computed(
                        leaf_samples.get(str(leaf.get("name"))), behaves) is False]
    types = {leaf.get("type") for leaf in genuine if leaf not in contradicted}
    if contradicted and not types & set(modules):
        return False  # and its source's self.relu(x) is that layer's call
    return bool(types & set(modules)) or calls_in_forward(arch, need)


_CLAMP_AT_ZERO = re.compile(r"(?:clamp|clip)\s*\(\s*(?:min\s*=\s*)?0(?:\.0*)?\s*[,)]"
                            r"|clamp_min_?\s*\(\s*0(?:\.0*)?\s*\)")


def _clamped_at_zero(arch: dict[str, Any], functions: list[Any]) -> bool:
    """A ReLU written as ``x.clamp(min=0)``: a clamp ran on the pass, and forward's
    code clamps at zero from below."""
    return any(str(f).lower().lstrip("_").startswith(("clamp", "clip")) for f in functions) \
        and bool(_CLAMP_AT_ZERO.search(_code(str(arch.get("forward_source", "")))))


def calls_in_forward(arch: dict[str, Any], need: str) -> bool:
    """Forward's code calls the piece as a function (``F.max_pool2d(``, ``F.relu(``),
    comments and strings aside."""
    source = _code(str(arch.get("forward_source", ""))).lower()
    return any(re.search(rf"(?<!\w){c}\w*\s*\(", source) for c in REQUIRES[need][1])


@lru_cache(maxsize=32)  # forward's code is read for every operation a check asks about
def _code(source: str) -> str:
    """Forward's code without its comments and strings: a commented-out ``F.relu`` is no
    ReLU (and ``leaky_relu(`` is no call of ``relu``, which the caller sees to)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline))
    except (tokenize.TokenError, SyntaxError):  # cut off mid-statement (the kernel caps it)
        return re.sub(r"#[^\n]*", "", source)
    return " ".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
