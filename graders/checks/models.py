"""Scoring trained-model checks from probe outputs (labels and reference accuracies stay
here, on the trusted side)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graders.checks.function import CheckScore, Fault
from graders.errors import SpecError
from graders.model_plan import hidden_labels
from graders.results import CallStatus, CellRecord, CellSummary, ProbeRecord
from graders.spec import (
    ArchitectureCheck,
    Conv2d,
    Linear,
    LoaderCheck,
    ModelAccuracyCheck,
    ModelCheck,
    ModelLocator,
    OptimizerCheck,
    ParamCountCheck,
    PlotCheck,
    ReportedAccuracyCheck,
    SavedModelCheck,
    TransformCheck,
)
from graders.values import Decoded, Dict, Seq, WireFormatError, decode

REQUIRES = {
    "relu": (("ReLU",), ("relu",)),
    "max_pool": (("MaxPool2d", "MaxPool1d"), ("max_pool", "maxpool")),
    "dropout": (("Dropout", "Dropout2d"), ("dropout",)),
    "batch_norm": (("BatchNorm1d", "BatchNorm2d"), ("batch_norm", "batchnorm")),
}


@dataclass
class ModelContext:
    hidden_dir: Path | None
    calibration: dict[str, float]
    cells: list[CellSummary]
    calibrating: bool = False
    records: list[CellRecord] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)
    _labels: dict[str, np.ndarray] = field(default_factory=dict)

    def labels(self, check: ModelAccuracyCheck) -> np.ndarray:
        key = f"{check.data.name}:{check.data.classes}"
        if key not in self._labels:
            if self.hidden_dir is None:
                raise SpecError("the hidden test sets are not configured")
            self._labels[key] = hidden_labels(self.hidden_dir, check.data)[1]
        return self._labels[key]


def plain(decoded: Decoded) -> Any:
    value = decoded.value
    if isinstance(value, Seq):
        return [plain(item) for item in value.items]
    if isinstance(value, Dict):
        return {k: plain(v) for k, v in value.items}
    return value


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
        return plain(decode(record.value)), None
    except WireFormatError as exc:
        return None, CheckScore(0.0, [f"the model probe's answer was unreadable ({exc})"],
                                Fault.ERRORED)


def _eligible(payload: dict[str, Any], locate: ModelLocator) -> list[dict[str, Any]]:
    found = [c for c in payload.get("candidates", []) if isinstance(c, dict)]
    if locate.source == "memory":
        found = [c for c in found if str(c.get("label", "")).startswith("var:")]
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
    return f"the saved file {name}" if kind == "file" else f"`{name}`"


def _accuracy(preds: Any, labels: np.ndarray) -> float | None:
    if not isinstance(preds, np.ndarray) or preds.shape != labels.shape:
        return None
    return float(np.mean(preds.astype(np.int64) == labels))


def _no_model(locate: ModelLocator) -> CheckScore:
    what = "a saved model file (torch.save)" if locate.source == "saved" else \
        "a trained torch.nn.Module in the notebook's variables"
    return CheckScore(0.0, [f"no model found: expected {what}"], Fault.MISSING)


def score_accuracy(check: ModelAccuracyCheck, key: str, payload: dict[str, Any],
                   ctx: ModelContext) -> CheckScore:
    labels = ctx.labels(check)
    scored = []
    for c in _eligible(payload, check.locate):
        acc = _accuracy(c.get("predictions"), labels)
        if acc is not None:
            scored.append((acc, c))
    if not scored:
        errors = [f"{_where(c)}: {c['error']}" for c in _eligible(payload, check.locate)
                  if c.get("error")]
        if errors:
            return CheckScore(0.0, [f"the model could not be evaluated: {errors[0]}"],
                              Fault.ERRORED)
        return _no_model(check.locate)
    acc, best = max(scored, key=lambda s: s[0])
    if ctx.calibrating:
        ctx.measured[key] = acc
        return CheckScore(1.0, [f"reference accuracy {100 * acc:.1f}%"])
    reference = ctx.calibration.get(key)
    if reference is None:
        raise SpecError(f"no reference accuracy calibrated for {key}")
    gap = reference - acc
    band = check.band
    if gap <= band.full_within:
        credit = 1.0
    elif gap >= band.zero_within:
        credit = 0.0
    else:
        credit = (band.zero_within - gap) / (band.zero_within - band.full_within)
    per_class = []
    preds = best["predictions"].astype(np.int64)
    for k in range(int(labels.max()) + 1 if labels.size else 0):
        mask = labels == k
        if mask.any():
            per_class.append(f"{100 * float(np.mean(preds[mask] == k)):.0f}%")
    lines = [f"{_where(best)} reaches {100 * acc:.1f}% on the grader's held-out test images "
             f"(per class: {', '.join(per_class)}); full credit from "
             f"{100 * max(0.0, reference - band.full_within):.1f}%"]
    if credit == 0.0 and acc <= 1.5 / max(1, len(per_class)):
        lines.append("that is close to chance: was the model trained?")
    return CheckScore(credit, lines)


def _leaf_text(leaf: dict[str, Any]) -> str:
    if leaf["type"] == "Linear":
        return f"Linear({leaf.get('in_features')}, {leaf.get('out_features')})"
    if leaf["type"].startswith("Conv"):
        k = leaf.get("kernel_size")
        k = k[0] if isinstance(k, list) and k else k
        return f"{leaf['type']}({leaf.get('in_channels')}, {leaf.get('out_channels')}, " \
               f"kernel_size={k})"
    return leaf["type"]


def _spec_text(layer: Linear | Conv2d) -> str:
    def show(v: int | None) -> str:
        return "any" if v is None else str(v)

    if isinstance(layer, Linear):
        return f"Linear({show(layer.in_features)}, {show(layer.out_features)})"
    return f"Conv2d({show(layer.in_channels)}, {show(layer.out_channels)}, " \
           f"kernel_size={show(layer.kernel_size)})"


def _matches(leaf: dict[str, Any], layer: Linear | Conv2d) -> bool:
    if isinstance(layer, Linear):
        return leaf["type"] == "Linear" and all(
            want is None or leaf.get(attr) == want for attr, want in
            (("in_features", layer.in_features), ("out_features", layer.out_features)))
    k = leaf.get("kernel_size")
    k = k[0] if isinstance(k, list) and k else k
    return leaf["type"] == "Conv2d" and all(
        want is None or got == want for got, want in
        ((leaf.get("in_channels"), layer.in_channels),
         (leaf.get("out_channels"), layer.out_channels), (k, layer.kernel_size)))


def _architecture_problems(check: ArchitectureCheck, arch: dict[str, Any]) -> list[str]:
    problems = []
    leaves = [leaf for leaf in arch.get("leaves", []) if isinstance(leaf, dict)]
    layers = [leaf for leaf in leaves if leaf.get("type") in ("Linear", "Conv2d", "Conv1d")]
    for i, want in enumerate(check.layers):
        if i >= len(layers):
            problems.append(f"layer {i + 1} is missing; expected {_spec_text(want)}")
            break
        if not _matches(layers[i], want):
            problems.append(f"layer {i + 1} is {_leaf_text(layers[i])}; expected "
                            f"{_spec_text(want)}")
            break
    else:
        if len(layers) > len(check.layers):
            problems.append(f"there are {len(layers)} linear/convolutional layers; "
                            f"expected {len(check.layers)}")
    if check.parameters is not None and arch.get("parameters") != check.parameters:
        problems.append(f"the model has {arch.get('parameters'):,} parameters; the "
                        f"architecture in the handout has {check.parameters:,}")
    types = {leaf.get("type") for leaf in leaves}
    source = str(arch.get("forward_source", "")).lower()
    for need in check.requires:
        modules, calls = REQUIRES[need]
        if not types & set(modules) and not any(c in source for c in calls):
            problems.append(f"no {need.replace('_', ' ')} found (neither a module nor a "
                            "call in forward)")
    return problems


def score_architecture(check: ArchitectureCheck, payload: dict[str, Any]) -> CheckScore:
    found = [c for c in _eligible(payload, check.locate) if c.get("architecture")]
    if not found:
        return _no_model(check.locate)
    best: tuple[list[str], dict[str, Any]] | None = None
    for c in found:
        problems = _architecture_problems(check, c["architecture"])
        if best is None or len(problems) < len(best[0]):
            best = (problems, c)
    assert best is not None
    problems, chosen = best
    if not problems:
        return CheckScore(1.0, [f"{_where(chosen)} has the required architecture "
                                f"({chosen['architecture'].get('parameters', 0):,} parameters)"])
    structural = [p for p in problems if not p.startswith("no ")]
    # a wrong layer or parameter count fails the question; a missing activation or
    # pooling costs its share
    credit = 0.0 if structural else 1.0 - len(problems) / (len(check.requires) + 1)
    return CheckScore(credit, [f"{_where(chosen)}: {problems[0]}", *problems[1:]])


def score_loaders(check: LoaderCheck, payload: dict[str, Any]) -> CheckScore:
    loaders = [x for x in payload.get("loaders", []) if isinstance(x, dict)]
    feedback, passed = [], 0
    parts = len(check.splits) + (1 if check.batch_size is not None else 0)
    matched = []
    for split in check.splits:
        hit = None
        for entry in loaders:
            if not entry.get("is_loader") or entry.get("length") != split.length:
                continue
            if split.train is not None and entry.get("train") != split.train:
                continue
            # the class sizes, not their ids: a notebook may renumber cat/dog/ship to 0..2
            counts = entry.get("label_counts") or {}
            if split.label_counts and sorted(counts.values()) != sorted(
                    n for _, n in split.label_counts):
                continue
            hit = entry
            break
        if hit is None:
            seen = ", ".join(f"{x['name']} ({x.get('length')} samples)" for x in loaders
                             if x.get("is_loader")) or "none"
            feedback.append(f"no DataLoader over the {split.name} set of {split.length} "
                            f"samples{' with the required classes' if split.label_counts else ''}"
                            f" (DataLoaders found: {seen})")
        else:
            passed += 1
            matched.append(hit)
    if check.batch_size is not None:
        wrong = [m for m in matched if m.get("batch_size") != check.batch_size]
        if matched and not wrong:
            passed += 1
        elif wrong:
            feedback.append(f"{wrong[0]['name']} uses batch size {wrong[0].get('batch_size')};"
                            f" the handout asks for {check.batch_size}")
    return CheckScore(passed / parts, feedback or ["data loaders as the handout asks"])


def _public_accuracy(c: dict[str, Any]) -> float | None:
    preds, labels = c.get("public_predictions"), c.get("public_labels")
    if isinstance(preds, np.ndarray) and isinstance(labels, np.ndarray) and labels.size:
        return float(np.mean(preds == labels))
    return None


def score_saved(check: SavedModelCheck, payload: dict[str, Any]) -> CheckScore:
    saved = _eligible(payload, ModelLocator(source="saved"))
    if not saved:
        return _no_model(ModelLocator(source="saved"))
    usable = [c for c in saved if not c.get("error")]
    if not usable:
        return CheckScore(0.0, [f"{_where(saved[0])} {saved[0]['error']}"], Fault.ERRORED)
    memory = [a for c in _eligible(payload, ModelLocator(source="memory"))
              if (a := _public_accuracy(c)) is not None]
    scored = [(a, c) for c in usable if (a := _public_accuracy(c)) is not None]
    if not scored:
        return CheckScore(0.5, [f"{_where(usable[0])} loads, but no test DataLoader was found "
                                "to compare it with"])
    acc, chosen = max(scored, key=lambda s: s[0])
    if memory and acc < max(memory) - check.tolerance:
        return CheckScore(0.0, [
            f"the saved model ({_where(chosen)}) reaches {100 * acc:.1f}% on your test set, "
            f"but a model in memory reaches {100 * max(memory):.1f}%: the saved model is not "
            "the best one"])
    return CheckScore(1.0, [f"{_where(chosen)} loads and reaches {100 * acc:.1f}% on your "
                            "test set"])


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(%)?")


def _claims(text: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        if "acc" not in line.lower():
            continue
        for number, percent in _NUMBER.findall(line.split("acc", 1)[-1] if "acc" in line
                                               else line):
            value = float(number) / (100 if percent or float(number) > 1 else 1)
            if 0 <= value <= 1:
                out.append((line, value))
    return out


def section_cells(cells: list[CellSummary], section: str | None) -> list[CellSummary]:
    if section is None:
        return cells
    pattern = re.compile(section, re.IGNORECASE)
    start, level = None, 0
    for i, cell in enumerate(cells):
        if cell.heading and pattern.search(cell.heading):
            start, level = i, cell.level
            break
    if start is None:
        return []
    out = []
    for cell in cells[start + 1:]:
        if cell.heading and cell.level <= level:
            break
        out.append(cell)
    return out


def score_reported(check: ReportedAccuracyCheck, payload: dict[str, Any],
                   ctx: ModelContext) -> CheckScore:
    text = "\n".join(c.text for c in section_cells(ctx.cells, check.section))
    claims = _claims(text)
    measured = [a for c in _eligible(payload, check.locate)
                if (a := _public_accuracy(c)) is not None]
    feedback = []
    if not claims:
        return CheckScore(0.0, ["no printed test accuracy found"])
    overall = [v for line, v in claims
               if not any(name in line.lower() for name in check.per_class)]
    claim = overall[-1] if overall else claims[-1][1]
    credit = 0.0
    parts = 2 if check.per_class else 1
    if not measured:
        feedback.append("no model and test DataLoader found to check the printed accuracy")
    elif any(abs(claim - m) <= check.tolerance for m in measured):
        credit += 1
        feedback.append(f"the printed accuracy {100 * claim:.1f}% matches the model")
    else:
        closest = min(measured, key=lambda m: abs(m - claim))
        feedback.append(f"the notebook prints a test accuracy of {100 * claim:.1f}%, but its "
                        f"model reaches {100 * closest:.1f}% on that test set")
    if check.per_class:
        lower = text.lower()
        missing = [n for n in check.per_class if not re.search(
            rf"{re.escape(n)}[^\n]*\d", lower)]
        if missing:
            feedback.append(f"no per-class accuracy printed for: {', '.join(missing)}")
        else:
            credit += 1
    return CheckScore(credit / parts, feedback)


def score_plot(check: PlotCheck, ctx: ModelContext) -> CheckScore:
    cells = section_cells(ctx.cells, check.section)
    images = sum(c.images for c in cells)
    where = f"the section matching '{check.section}'" if check.section else "the notebook"
    if check.section and not cells:
        return CheckScore(0.0, [f"no markdown heading matching '{check.section}' found"])
    if images >= check.min_images:
        return CheckScore(1.0, [f"{images} plot(s) in {where} (kept for your instructor)"])
    return CheckScore(0.0, [f"expected at least {check.min_images} plot(s) in {where}; "
                            f"found {images}"])


def true_parameters(layers: tuple[tuple[Any, ...], ...]) -> int:
    """Parameters of a model built from (layer name, args...) as torch.nn would build it."""
    total = 0
    for name, *args in layers:
        if name == "Linear":
            total += args[0] * args[1] + args[1]
        elif name == "Conv2d":
            total += args[0] * args[1] * args[2] * args[2] + args[1]
        elif name == "Conv1d":
            total += args[0] * args[1] * args[2] + args[1]
        elif name.startswith("BatchNorm"):
            total += 2 * args[0]
    return total


def score_param_count(check: ParamCountCheck, payload: dict[str, Any]) -> CheckScore:
    truth = [true_parameters(m) for m in check.models]
    functions = [f for f in payload.get("functions", []) if isinstance(f, dict)]
    if not functions:
        return CheckScore(0.0, ["no parameter-counting function found (a function whose name "
                                "says it counts parameters, taking a model)"], Fault.MISSING)

    def number(got: Any) -> float | None:
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, int | float | np.number):
            return None
        return float(got)

    best = (-1, functions[0])
    for f in functions:
        results = [number(r) for r in f.get("results", [])]
        right = sum(1 for got, want in zip(results, truth, strict=False) if got == want)
        best = max(best, (right, f), key=lambda b: b[0])
    right, chosen = best
    if right == len(truth):
        return CheckScore(1.0, [f"{chosen['name']}() counts parameters correctly"])
    results = [r if number(r) is None else int(number(r) or 0) for r in chosen.get("results", [])]
    wrong = next(i for i, want in enumerate(truth)
                 if i >= len(results) or results[i] != want)
    got = results[wrong] if wrong < len(results) else None
    return CheckScore(right / len(truth), [
        f"{chosen['name']}() returned {got!r} for model {wrong + 1} of {len(truth)}, which "
        f"has {truth[wrong]:,} parameters"])


def _constructed(cells: list[CellSummary]) -> list[tuple[str, dict[str, Any]]]:
    """(class name, literal keyword arguments) of every call in the code cells."""
    import ast

    calls = []
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            kwargs: dict[str, Any] = {}
            for kw in node.keywords:
                try:
                    kwargs[str(kw.arg)] = ast.literal_eval(kw.value)
                except (ValueError, TypeError, SyntaxError):
                    continue
            if len(node.args) > 1 and "lr" not in kwargs:  # SGD(params, 0.01)
                with contextlib.suppress(ValueError, TypeError, SyntaxError):
                    kwargs["lr"] = ast.literal_eval(node.args[1])
            calls.append((name, kwargs))
    return calls


def score_optimizers(check: OptimizerCheck, ctx: ModelContext) -> CheckScore:
    calls = _constructed([c for c in ctx.cells if c.kind == "code"])
    missing = []
    for setting in check.settings:
        want = dict(setting.kwargs)
        if not any(name == setting.name and all(kwargs.get(k) == v for k, v in want.items())
                   for name, kwargs in calls):
            args = ", ".join(f"{k}={v}" for k, v in setting.kwargs)
            missing.append(f"{setting.name}({args})")
    if not missing:
        return CheckScore(1.0, ["all the optimizer settings the handout lists are used"])
    found = sum(1 for _ in check.settings) - len(missing)
    return CheckScore(found / len(check.settings),
                      [f"no optimizer constructed as {', '.join(missing)}"])


def score_transform(check: TransformCheck, payload: dict[str, Any]) -> CheckScore:
    for entry in payload.get("loaders", []):
        names = entry.get("transforms") or []
        if names and names[-1] == check.last:
            return CheckScore(1.0, [f"{entry['name']} applies {check.last} last"])
    found = [f"{e['name']}: {' -> '.join(e.get('transforms') or []) or 'none'}"
             for e in payload.get("loaders", [])]
    return CheckScore(0.0, [f"no dataset applies {check.last} as its last transform "
                            f"(found {'; '.join(found) or 'no datasets'})"])


def score_model_check(check: ModelCheck, key: str, record: ProbeRecord | None,
                      ctx: ModelContext) -> CheckScore:
    if isinstance(check, PlotCheck):
        return score_plot(check, ctx)
    if isinstance(check, OptimizerCheck):
        return score_optimizers(check, ctx)
    payload, failure = _payload(record)
    if failure is not None:
        return failure
    if not isinstance(payload, dict):
        return CheckScore(0.0, ["the model probe's answer was unreadable"], Fault.ERRORED)
    if isinstance(check, ModelAccuracyCheck):
        return score_accuracy(check, key, payload, ctx)
    if isinstance(check, ArchitectureCheck):
        return score_architecture(check, payload)
    if isinstance(check, LoaderCheck):
        return score_loaders(check, payload)
    if isinstance(check, SavedModelCheck):
        return score_saved(check, payload)
    if isinstance(check, ReportedAccuracyCheck):
        return score_reported(check, payload, ctx)
    if isinstance(check, ParamCountCheck):
        return score_param_count(check, payload)
    return score_transform(check, payload)
