"""Accuracy on grader-held test images, against the calibrated reference; the saved
"best" model; the accuracy the notebook prints."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from graders.errors import SpecError
from graders.hidden import measured_key
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.code import parse, python, walk
from graders.scoring.models.context import (
    RELABEL_GAIN,
    ModelContext,
    _accuracy,
    _eligible,
    _no_model,
    _where,
    computes,
    fits_layers,
    relabelled,
)
from graders.scoring.models.test_data import steps_on_test_data
from graders.spec import (
    AccuracyBand,
    HiddenSet,
    ModelAccuracyCheck,
    ModelLocator,
    ReportedAccuracyCheck,
    SavedModelCheck,
)


def score_accuracy(check: ModelAccuracyCheck, key: str, payload: dict[str, Any],
                   ctx: ModelContext) -> CheckScore:
    """The best network on the question's data. Where the question lets the network be
    trained on other data too (``alternatives``), each network is measured on the set
    the kernel ran it on, against the reference's network for that set; the better
    credit counts (the labels stay here: which set a network ran on cannot earn it any)."""
    sets = check.hidden_sets
    eligible = _eligible(payload, check.locate)
    # the question's network where the notebook has one (its layers as the architecture
    # question names them): a linear model trained beside a barely trained MLP does not
    # answer for the MLP
    network = ctx.network()
    fitting = [c for c in eligible if network and fits_layers(c.get("architecture"), network)
               and (c.get("architecture") or {}).get("trained") is not False]
    eligible = fitting or eligible
    found: list[tuple[str, CheckScore]] = []
    for index, data in enumerate(sets):
        labels = ctx.labels_of(data)
        scored = []
        for c in eligible:
            if _ran_on(c, len(sets)) == index:
                c = _renumbered(_prepared(c, labels), labels)
                acc = _accuracy(c.get("predictions"), labels)
                if acc is not None:
                    scored.append((acc, c))
        if scored:
            measured = measured_key(key, sets, index)
            found.append((measured, _score_best(check, measured, scored, payload, ctx,
                                                labels, data if index else None)))
    if not found:
        return _unmeasured(check, payload, eligible)
    if ctx.calibrating:
        return _calibrated(key, found)
    # the better credit; on a tie, the question's own data
    return max(found, key=lambda f: f[1].fraction)[1]


def _ran_on(c: dict[str, Any], count: int) -> int | None:
    """Which of the question's sets the kernel ran the network on (the first, unless it
    says another); None for an index no set has."""
    index = c.get("data", 0)
    return index if type(index) is int and 0 <= index < count else None


def stored_values(c: dict[str, Any]) -> int | None:
    """How many values the candidate's forward computed with that it neither learned
    nor was given, where they are more than a network keeps beside its weights: more
    than its parameters, and more than 50,000 (batch norm's statistics, a
    normalisation's constants, a positional table or a pruning mask as buffers stay
    below that); -1 for a forward that raised only while recorded; None otherwise."""
    forward = c.get("forward")
    stored = c.get("stored")
    if stored is None and isinstance(forward, dict):
        stored = forward.get("stored")
    if not isinstance(stored, int) or isinstance(stored, bool):
        return None
    if stored == -1:
        return -1  # its forward runs only while it is not recorded
    parameters = (c.get("architecture") or {}).get("parameters")
    parameters = parameters if isinstance(parameters, int) else 0
    return stored if stored > max(50_000, parameters) else None


def _calibrated(key: str, found: list[tuple[str, CheckScore]]) -> CheckScore:
    """The reference's score, carrying every set's accuracy (and its untrained copy's)
    by calibration key: its own set's as ``measured``, the others' by suffix."""
    own = next((score for k, score in found if k == key), None)
    elsewhere = {f"{k.removeprefix(key)}{suffix}": value for k, score in found if k != key
                 for suffix, value in (("", score.measured), (":untrained", score.untrained))
                 if value is not None}
    if own is None:
        return replace(found[0][1], measured=None, untrained=None,
                       measured_elsewhere=elsewhere)
    return replace(own, measured_elsewhere=elsewhere)


def _unmeasured(check: ModelAccuracyCheck, payload: dict[str, Any],
                eligible: list[dict[str, Any]]) -> CheckScore:
    """No network the question is about could be measured: why."""
    errors = [f"{_where(c)}: {c['error']}" for c in eligible if c.get("error")]
    if errors:
        return CheckScore(0.0, [f"the model could not be evaluated: {errors[0]}"],
                          Fault.ERRORED)
    if eligible:
        # answers of the wrong length, or for a set the question does not have
        return CheckScore(0.0, [f"{_where(eligible[0])} was run on the grader's held-out "
                                "data, but its answers do not match them one for one"],
                          Fault.ERRORED)
    missing = _no_model(check.locate)
    others = _eligible(payload, replace(check.locate, requires=(), excludes=())) \
        if check.locate.requires or check.locate.excludes else []
    failed = [c for c in others if isinstance(c.get("error"), str)]
    if failed and len(failed) == len(others):
        # its layers are unknown until it runs: a network for other data (MNIST's
        # 784 inputs where the question's data have 2 features) did not
        missing.feedback.append(
            f"found {_where(failed[0])}, which could not be run on the question's data "
            f"({' or '.join(d.name for d in check.hidden_sets)}): {failed[0]['error']}; "
            "the question's network is measured on the data the question trains it on")
    elif others:
        arch = others[0].get("architecture") or {}
        lacks = [n.replace("_", " ") for n in check.locate.requires
                 if not computes(arch, n)]
        still = [n.replace("_", " ") for n in check.locate.excludes if computes(arch, n)]
        wanted = " and ".join(n.replace("_", " ") for n in check.locate.requires)
        instead = " or ".join(n.replace("_", " ") for n in check.locate.excludes)
        missing.feedback.append(
            "found " + ", ".join(_where(c) for c in others[:3]) + ", which "
            + " and ".join([f"does not use {' or '.join(lacks)}"] * bool(lacks)
                           + [f"still uses {' or '.join(still)}"] * bool(still))
            + ": the question is about the network that uses "
            + (wanted or "another layer") + (f" in place of {instead}" if instead else ""))
    return missing


def _score_best(check: ModelAccuracyCheck, key: str,
                scored: list[tuple[float, dict[str, Any]]], payload: dict[str, Any],
                ctx: ModelContext, labels: np.ndarray, elsewhere: HiddenSet | None) -> CheckScore:
    """The best of the networks measured on one set, against the reference's on it."""
    acc, best = max(scored, key=lambda s: s[0])
    # the same network with its weights drawn afresh, on the same images: training must
    # beat it (the kernel runs it; a notebook that tampers with it can only lose credit)
    untrained = _accuracy(best.get("untrained_predictions"), labels)
    if untrained is not None and np.array_equal(best["untrained_predictions"],
                                                best["predictions"]):
        # every answer the same as the trained network's: weights no layer re-draws
        # (plain tensors) kept their training, so this is no untrained control
        untrained = None
    if ctx.calibrating:
        return CheckScore(1.0, [f"reference accuracy {100 * acc:.1f}%"] + (
            [f"an untrained copy of it reaches {100 * untrained:.1f}%"]
            if untrained is not None else []), measured=acc, untrained=untrained)
    reference = ctx.calibration.get(key)
    if reference is None and elsewhere is not None:
        # a calibration from before the question allowed this data: it is measured
        # again when the reference notebook changes, and the student regraded then
        return CheckScore(0.0, [
            f"not graded yet: your network takes {elsewhere.name}, and the course's "
            "reference has no accuracy calibrated there yet; your course staff must "
            "calibrate it, and this question will be regraded then"], Fault.UNCALIBRATED,
            measured=acc)
    if reference is None:
        raise SpecError(f"no reference accuracy calibrated for {key}")
    chance = chance_rate(labels)
    reference_untrained = ctx.calibration.get(f"{key}:untrained")
    if round(reference, 3) < round(chance + CHANCE_MARGIN, 3):
        return CheckScore(0.0, [
            f"not graded yet: on the grader's held-out images the course's reference "
            f"reaches {100 * reference:.1f}%, no better than guessing the most common class "
            f"({100 * chance:.1f}%), so accuracy cannot tell a trained network from an "
            "untrained one here. Your course staff must calibrate this question on the "
            "course's data; it will be regraded then."], Fault.UNCALIBRATED, measured=acc)
    if reference_untrained is not None and \
            round(reference, 3) < round(reference_untrained + CHANCE_MARGIN, 3):
        return CheckScore(0.0, [
            f"not graded yet: on the grader's held-out images the course's reference "
            f"reaches {100 * reference:.1f}%, and an untrained copy of it "
            f"{100 * reference_untrained:.1f}%: accuracy cannot tell training from none "
            "here. Your course staff must calibrate this question on the course's data; it "
            "will be regraded then."], Fault.UNCALIBRATED, measured=acc, untrained=untrained)
    # nothing within the margin of chance, of the reference's untrained copy, or of this
    # network's own untrained copy earns credit
    control = max(chance, reference_untrained or 0.0, untrained or 0.0)
    bands = credit_bands(check.band, reference, control)
    credit = band_credit(bands, acc)
    classes = [f"{100 * share:.0f}%"
               for share in per_class(best["predictions"].astype(np.int64), labels)]
    controls = f"guessing the most common class reaches {100 * chance:.1f}%"
    if untrained is not None:
        controls += f", an untrained copy of this network {100 * untrained:.1f}%"
    if reference_untrained is not None:
        controls += f", an untrained copy of the reference {100 * reference_untrained:.1f}%"
    lines = [f"{_where(best)} reaches {100 * acc:.1f}% on the grader's {labels.size:,} "
             f"held-out test images (per class: {', '.join(classes)}; {controls}, and "
             f"nothing within {100 * CHANCE_MARGIN:.0f} points of "
             f"{'that' if controls.count('%') == 1 else 'the best of these'} earns credit); "
             f"{describe_bands(bands, reference)}: {_fraction(credit)} credit"]
    if elsewhere is not None:
        lines.append(f"your network does not take the question's data "
                     f"({check.data.name}), so it was measured on {elsewhere.name}, which "
                     "the question lets it be trained on, against the course's reference "
                     "network trained there")
    if best.get("renumbered"):
        lines.append(best["renumbered"])
    if payload.get("transform_source") == "fallback":
        lines.append("no dataset of your notebook holds images like these, so they were "
                     "prepared with the grader's own transform ("
                     + " + ".join(str(t) for t in payload.get("transform") or ["ToTensor"])
                     + "), not yours")
    if payload.get("matched") is True and not best.get("unscaled"):
        lines.append("your test data serve your network inputs scaled otherwise than that "
                     "transform makes them, so the grader's images were scaled channel by "
                     "channel to your test inputs' mean and spread, as your network saw "
                     "its own")
    if credit == 0.0 and acc <= 1.5 / max(1, len(classes)):
        lines.append("that is close to chance: was the model trained?")
    lines += training_mistakes(ctx, best.get("architecture") or {})
    kept = stored_values(best)
    if credit > 0 and kept == -1:
        credit = 0.0
        lines.append("none of that: its forward raises while the grader records what it "
                     "computes with, and runs otherwise, so what it reaches cannot be told "
                     "from values kept beside the network")
    elif credit > 0 and kept is not None:
        credit = 0.0
        lines.append(f"none of that: its forward computes with {kept:,} stored values that "
                     "are neither its parameters nor its input (kept beside the network "
                     "where its parameters do not list them: training images looked up by "
                     "similarity, or the weights of another network): what it reaches is "
                     "not the network's")
    if credit > 0 and steps_on_test_data(ctx.cells):
        # the grader's images are still unseen, so what it reaches is real; the handout's
        # protocol (train on the training split only) is not what was done
        credit /= 2
        lines.append("half of that: the network was trained on the test split as well, "
                     "which the handout keeps for testing")
    return CheckScore(credit, lines, measured=acc, untrained=untrained)


def _prepared(c: dict[str, Any], labels: np.ndarray) -> dict[str, Any]:
    """The candidate under the preparation of the grader's images that suits it: where
    the kernel scaled them to the notebook's own test inputs, it also sent predictions on
    them as the transform makes them (a loop that divides raw pixels by 255 itself serves
    its network unscaled test inputs). The better of the two: two tries, no label sent."""
    other = c.get("unmatched_predictions")
    scaled, plain = _accuracy(c.get("predictions"), labels), _accuracy(other, labels)
    if scaled is None or plain is None or plain <= scaled:
        return c
    return {**c, "predictions": other, "unscaled": True}


def _renumbered(c: dict[str, Any], labels: np.ndarray) -> dict[str, Any]:
    """The candidate with its predictions renamed to the grader's class numbers, when the
    notebook plainly numbers the classes otherwise (its own order, or the dataset's ids
    on more outputs): the labels are the notebook's choice, the accuracy is the network's.
    Its untrained copy is renamed the same way."""
    preds = c.get("predictions")
    arch = c.get("architecture")
    if str(c.get("label", "")).startswith("var:") and isinstance(arch, dict) \
            and arch.get("trained") is False:
        # the numbering is chosen with the grader's labels: only a network an optimizer
        # trained (on the notebook's own labels) may have one of its own; clusters found
        # without labels, numbered anyhow, are no classifier
        return c
    identity = _accuracy(preds, labels)
    found = relabelled(preds, labels)
    if identity is None or found is None or found[0] < identity + RELABEL_GAIN:
        return c
    mapping = found[1]

    def rename(values: Any) -> Any:
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "iu":
            return values
        # a label the renaming does not take answers no class
        return np.array([mapping.get(int(v), -1) for v in values], dtype=np.int64)

    pairs = ", ".join(f"{k} as {v}" for k, v in sorted(mapping.items()) if k != v)
    return {**c, "predictions": rename(preds),
            "untrained_predictions": rename(c.get("untrained_predictions")),
            "renumbered": f"your network numbers the classes otherwise than the grader "
                          f"({pairs}): graded under that numbering "
                          f"({100 * identity:.1f}% as numbered, {100 * found[0]:.1f}% "
                          "renumbered)"}


# No credit within this much of chance, whatever the bands say: an untrained network
# reaches chance, and a little more by luck on a small test set.
CHANCE_MARGIN = 0.05


def chance_rate(labels: np.ndarray) -> float:
    """What always answering the most common class scores on these labels."""
    if labels.size == 0:
        return 0.0
    return float(np.bincount(labels.astype(np.int64)).max() / labels.size)


def credit_bands(band: AccuracyBand, reference: float,
                 chance: float = 0.0) -> list[tuple[float, float]]:
    """(credit, lowest accuracy that earns it), best first. Edges are whole tenths of a
    percent, so what decides a band is the accuracy the report prints; none is within
    ``CHANCE_MARGIN`` of ``chance``."""
    width = (band.zero_within - band.full_within) / band.steps
    top = reference - band.full_within - band.margin
    floor = round(chance + CHANCE_MARGIN, 3) if chance > 0 else 0.0
    return [(1.0 - k / band.steps, max(floor, round(top - k * width, 3)))
            for k in range(band.steps)]


def band_credit(bands: list[tuple[float, float]], accuracy: float) -> float:
    measured = round(accuracy, 3)
    return next((credit for credit, floor in bands if measured >= floor), 0.0)


def _fraction(credit: float) -> str:
    if credit in (0.0, 1.0):
        return "full" if credit else "no"
    share = Fraction(credit).limit_denominator(12)
    return f"{share.numerator}/{share.denominator} of the"


def describe_bands(bands: list[tuple[float, float]], reference: float) -> str:
    steps = ", ".join(f"{_fraction(c).removesuffix(' of the')} from {100 * floor:.1f}%"
                      for c, floor in bands)
    return f"credit in bands below the reference's {100 * reference:.1f}% ({steps})"


_TRAIN_FALSE = re.compile(r"\.train\(\s*(?:mode\s*=\s*)?False\s*\)")


def training_mistakes(ctx: ModelContext, architecture: dict[str, Any]) -> list[str]:
    """Common training mistakes a TA would name, read from the notebook's code."""
    notes = []
    code = [c for c in ctx.cells if c.kind == "code"]
    found = steps_on_test_data(ctx.cells)
    if found:
        notes.append(f"cell {found[0] + 1} takes optimizer steps on `{found[1]}`: "
                     "training on test (or validation) data makes their accuracy "
                     "meaningless")
    types = {str(leaf.get("type")) for leaf in architecture.get("leaves", [])
             if isinstance(leaf, dict)}
    if (any(t.startswith(("Dropout", "BatchNorm")) for t in types)
            # the course's predict() helper switches to eval mode itself, as does
            # model.train(False) (or mode=False)
            and not any(".eval()" in c.source or "predict(" in c.source
                        or _TRAIN_FALSE.search(c.source) for c in code)):
        notes.append("the model has dropout or batch norm, but model.eval() is never called "
                     "before evaluating it: its test predictions are noisier than they "
                     "should be")
    return notes




# a model this much better on the notebook's own test images than on the grader's images
# of the same classes recognises those images (a lookup of each image, or of its label)
LOOKUP_GAP = 0.3


def memorises(check: SavedModelCheck | ReportedAccuracyCheck, c: dict[str, Any],
              ctx: ModelContext | None, payload: dict[str, Any]) -> str | None:
    """Why the candidate is no model: it answers the notebook's own test set far better
    than grader-held images of the same classes, under any numbering of the classes.
    Only where the grader's images went through the notebook's own transform: with the
    grader's fallback, an honest model may lose that much to a preprocessing it never
    saw."""
    public = _public_accuracy(c)
    if check.data is None or ctx is None or public is None \
            or payload.get("transform_source") != "student":
        return None
    try:
        labels = ctx.labels(check)
    except SpecError:  # no hidden sets configured: nothing to hold it against
        return None
    held = relabelled(_prepared(c, labels).get("predictions"), labels)
    if held is None or public - held[0] <= LOOKUP_GAP:
        return None
    return (f"{_where(c)} reaches {100 * public:.1f}% on your test set but "
            f"{100 * held[0]:.1f}% on the grader's images of the same classes: it recognises "
            "the test images rather than classifying them")


def _lookups(check: SavedModelCheck | ReportedAccuracyCheck, candidates: list[dict[str, Any]],
             ctx: ModelContext | None, payload: dict[str, Any]
             ) -> tuple[list[str], list[dict[str, Any]]]:
    """Why each lookup among the candidates is none, and the candidates that are models."""
    verdicts = [(c, memorises(check, c, ctx, payload)) for c in candidates]
    return [why for _, why in verdicts if why], [c for c, why in verdicts if not why]


def per_class(preds: np.ndarray, labels: np.ndarray) -> list[float]:
    """The share of each class's images (in the labels' order) the predictions get right."""
    return [float(np.mean(preds[labels == k] == k)) for k in np.unique(labels)]


def public_labels(c: dict[str, Any]) -> Any:
    """The notebook's own test labels as its network numbers the classes: a loader that
    keeps CIFAR's ids (3, 5, 8) for a network of three outputs (the notebook maps them to
    0, 1, 2 where it trains) is read in the ids' order. Nothing else is renumbered."""
    preds, labels = c.get("public_predictions"), c.get("public_labels")
    if not (isinstance(preds, np.ndarray) and isinstance(labels, np.ndarray)) or \
            labels.ndim != 1 or not labels.size or labels.dtype.kind not in "iu" or \
            preds.dtype.kind not in "iu" or preds.shape != labels.shape:
        return labels
    ids = np.unique(labels)
    given = np.unique(preds)
    if set(given.tolist()) <= set(ids.tolist()) or not set(given.tolist()) <= set(
            range(len(ids))) or set(ids.tolist()) == set(range(len(ids))):
        return labels
    return np.searchsorted(ids, labels).astype(np.int64)


def _public_accuracy(c: dict[str, Any]) -> float | None:
    preds, labels = c.get("public_predictions"), public_labels(c)
    # the student's own labels: one value per image, or nothing to compare
    if isinstance(preds, np.ndarray) and isinstance(labels, np.ndarray) and labels.size \
            and preds.shape == labels.shape and labels.ndim == 1:
        return float(np.mean(preds == labels))
    return None


def _student_chance(labels: Any) -> float | None:
    """Chance on the notebook's own test labels, when they are class ids (its loader
    decides what they are: one-hot rows, negative or huge values are not)."""
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or not labels.size \
            or labels.dtype.kind not in "iu":
        return None
    if labels.min() < 0 or labels.max() >= 100_000:
        return None
    _, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / labels.size)


# `best = model.state_dict()`: a dict of live references to the model's tensors, so the
# "best" weights keep changing with every later step and end up the final ones.
_STATE_ALIAS = re.compile(
    r"^[ \t]*(?P<name>\w*best\w*)\s*=\s*(?P<model>[\w.\[\]'\"]+)\.state_dict\(\)\s*(#.*)?$",
    re.IGNORECASE | re.MULTILINE)


def _saved_at_once(source: str, match: re.Match[str]) -> bool:
    """The alias written to a file in the next few lines (same block): then the file
    holds that epoch's weights, which is right."""
    following = source[match.end():].splitlines()[1:4]
    indent = len(match.group(0)) - len(match.group(0).lstrip())
    return any(f"torch.save({match['name']}" in line.replace(" ", "")
               and len(line) - len(line.lstrip()) >= indent for line in following)


def state_dict_alias(ctx: ModelContext) -> str | None:
    """Feedback when the notebook keeps its "best" weights as a live state_dict alias."""
    for cell in ctx.cells:
        if cell.kind != "code":
            continue
        match = _STATE_ALIAS.search(cell.source)
        if match and not _saved_at_once(cell.source, match):
            return (f"cell {cell.index + 1} keeps the best model as `{match['name']} = "
                    f"{match['model']}.state_dict()`: that dict holds live references to the "
                    "model's tensors, so it changes with every later training step and ends "
                    "up as the last epoch's weights; copy it (copy.deepcopy(...)) or save "
                    "it to a file when it is the best")
    return None


def never_compared(ctx: ModelContext) -> str | None:
    """Feedback when the notebook saves its model but never under a comparison (``if
    acc > best:``): what it saved is whatever was trained last, not the best."""
    saves: list[tuple[ast.Call, bool, str | None]] = []
    kept: set[str] = set()  # names bound under a comparison (``best_state = copy(...)``)
    called: set[str] = set()  # functions and methods called under a comparison
    loads: list[ast.Call] = []  # load_state_dict(...) calls
    for cell in ctx.cells:
        if cell.kind != "code":
            continue
        tree = parse(python(cell.source) or "")
        if isinstance(tree, SyntaxError):
            continue
        stack: list[tuple[ast.AST, bool, str | None]] = [(tree, False, None)]
        while stack:
            node, compared, function = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                function = node.name
            if isinstance(node, ast.If | ast.IfExp) and any(
                    isinstance(n, ast.Compare) for n in walk(node.test)):
                compared = True
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name == "save" and getattr(getattr(node.func, "value", None), "id",
                                              None) == "torch":
                    saves.append((node, compared, function))
                elif name == "load_state_dict":
                    loads.append(node)
                elif compared and isinstance(name, str):
                    called.add(name)
            if compared and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                kept.add(node.id)
            stack += [(child, compared, function) for child in ast.iter_child_nodes(node)]

    def uses_kept(call: ast.Call) -> bool:
        return any(isinstance(n, ast.Name) and n.id in kept for a in call.args for n in walk(a))

    # the best weights loaded back before saving (the PyTorch fine-tuning tutorial), or
    # saved by a helper called when the model improves (an early-stopping class)
    restored = any(uses_kept(call) for call in loads)
    guarded = [call for call, compared, function in saves
               if compared or uses_kept(call) or restored or function in called]
    if saves and not guarded:
        return ("the model is saved without comparing it with the best so far (no "
                "`if accuracy > best:` around torch.save): the file holds whatever was "
                "trained last, which the handout does not ask for")
    return None


def trained_on_test(ctx: ModelContext | None) -> str | None:
    """Why the notebook's own test accuracies say nothing: it takes optimizer steps on
    its test (or validation) data."""
    found = steps_on_test_data(ctx.cells) if ctx is not None else None
    if found is None:
        return None
    return (f"cell {found[0] + 1} takes optimizer steps on `{found[1]}`: accuracy on the "
            "data a model was trained on says nothing about how good it is")


def score_saved(check: SavedModelCheck, payload: dict[str, Any],
                ctx: ModelContext | None = None) -> CheckScore:
    alias = state_dict_alias(ctx) if ctx is not None else None
    if alias:
        return CheckScore(0.0, [alias])
    leak = trained_on_test(ctx)
    if leak:
        return CheckScore(0.0, [f"the saved model cannot be judged the best: {leak}"])
    saved = _eligible(payload, ModelLocator(source="saved"))
    if not saved:
        return _no_model(ModelLocator(source="saved"))
    usable = [c for c in saved if not c.get("error")]
    if not usable:
        return CheckScore(0.0, [f"{_where(saved[0])} {saved[0]['error']}"], Fault.ERRORED)
    lookups, usable = _lookups(check, usable, ctx, payload)
    if not usable:
        return CheckScore(0.0, [f"the saved model cannot be credited: {lookups[0]}"])
    # models the notebook still holds (one it replaced is not a rival of the saved one)
    memory = [a for c in _eligible(payload, ModelLocator(source="memory"))
              if c.get("earlier_cell") is None and (a := _public_accuracy(c)) is not None]
    scored = [(a, c) for c in usable if (a := _public_accuracy(c)) is not None]
    if not scored:
        return CheckScore(0.5, [f"{_where(usable[0])} loads, but no test DataLoader was found "
                                "to compare it with"])
    acc, chosen = max(scored, key=lambda s: s[0])
    chance = _student_chance(chosen.get("public_labels"))
    if chance is not None and acc < chance + CHANCE_MARGIN:
        return CheckScore(0.0, [
            f"the saved model ({_where(chosen)}) reaches {100 * acc:.1f}% on your test set, "
            f"no better than always answering the most common class ({100 * chance:.1f}%): "
            "it was saved before it was trained, or is not the trained model"])
    if memory and acc < max(memory) - check.tolerance:
        return CheckScore(0.0, [
            f"the saved model ({_where(chosen)}) reaches {100 * acc:.1f}% on your test set, "
            f"but a model in memory reaches {100 * max(memory):.1f}%: the saved model is not "
            "the best one"])
    last = never_compared(ctx) if ctx is not None else None
    if last:
        # it loads and it is trained: half, for a best model never looked for
        return CheckScore(0.5, [f"{_where(chosen)} loads and reaches {100 * acc:.1f}% on "
                                "your test set, but " + last])
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


def score_reported(check: ReportedAccuracyCheck, payload: dict[str, Any],
                   ctx: ModelContext) -> CheckScore:
    text = "\n".join(c.text for c in ctx.section(check.section).cells)
    claims = _claims(text)
    lookups, models = _lookups(check, _eligible(payload, check.locate), ctx, payload)
    measured = [a for c in models if (a := _public_accuracy(c)) is not None]
    feedback = []
    if not claims:
        return CheckScore(0.0, ["no printed test accuracy found"])
    if lookups and not measured:
        return CheckScore(0.0, [f"the printed accuracy cannot be credited: {lookups[0]}"])
    overall = [(line, v) for line, v in claims
               if not any(name in line.lower() for name in check.per_class)]
    # the question asks for the test accuracy: the last claim that says "test", else the
    # last that is not about training data (a training accuracy printed after the test
    # one is not the answer), else the last one
    tested = [v for line, v in overall if re.search(r"\btest", line, re.IGNORECASE)]
    untrained = [v for line, v in overall if not re.search(r"\btrain", line, re.IGNORECASE)]
    claim = (tested or untrained or [v for _, v in overall] or [claims[-1][1]])[-1]
    credit = 0.0
    parts = 2 if check.per_class else 1
    leak = trained_on_test(ctx)
    contradicted = False
    matching: list[dict[str, Any]] = []
    if leak:
        contradicted = True
        feedback.append(f"the printed accuracy cannot be credited: {leak}")
    elif not measured:
        feedback.append("no model and test DataLoader found to check the printed accuracy")
    elif any(abs(claim - m) <= check.tolerance for m in measured):
        credit += 1
        feedback.append(f"the printed accuracy {100 * claim:.1f}% matches the model")
        matching = [c for c in models if (a := _public_accuracy(c)) is not None
                    and abs(claim - a) <= check.tolerance]
    else:
        contradicted = True
        closest = min(measured, key=lambda m: abs(m - claim))
        feedback.append(f"the notebook prints a test accuracy of {100 * claim:.1f}%, but its "
                        f"model reaches {100 * closest:.1f}% on that test set")
    if check.per_class:
        lower = text.lower()
        missing = [n for n in check.per_class if not re.search(
            rf"{re.escape(n)}[^\n]*\d", lower)]
        if missing:
            feedback.append(f"no per-class accuracy printed for: {', '.join(missing)}")
        elif contradicted:
            # printed beside an overall figure the model does not reach: as unfounded
            feedback.append("the per-class accuracies are printed, but with an overall "
                            "accuracy the model does not reach they cannot be credited")
        elif not measured:
            credit += 1  # nothing to hold them against (said above)
        else:
            wrong = _per_class_claims(check, lower, matching)
            if wrong:
                feedback.append(wrong)
            else:
                credit += 1
                feedback.append("the printed per-class accuracies match the model")
    return CheckScore(credit / parts, feedback)


def _per_class_claims(check: ReportedAccuracyCheck, text: str,
                      models: list[dict[str, Any]]) -> str | None:
    """Why the per-class accuracies printed are not the model's (None: they are): each
    class's printed figure must be one of the model's per-class accuracies on the
    notebook's test set, each a different class's (an accuracy divided by the whole test
    set, or figures typed in, are not)."""
    printed: list[tuple[str, list[float]]] = []
    for name in check.per_class:
        figures = []
        for line in re.finditer(rf"\b{re.escape(name)}\b[^\n]*\d", text):
            # a class's index in brackets ("cat (0):") is no figure
            rest = re.sub(r"[(\[]\s*\d+\s*[)\]]", " ", line.group(0).split(name, 1)[-1])
            claims = _claims("acc " + rest)
            if len(claims) == 1:  # several figures (precision, recall...): no accuracy
                figures.append(claims[0][1])
        if not figures:
            return None  # not printed as one figure a line: the overall line stands
        printed.append((name, figures))
    # printed per-class figures are rounded more coarsely than the overall one; a class
    # printed on several lines (a table, then "best class: ship (95.5 %)") is the model's
    # where one of its lines is
    tolerance = max(check.tolerance, 0.01)
    for c in models:
        preds, labels = c.get("public_predictions"), public_labels(c)
        if not (isinstance(preds, np.ndarray) and isinstance(labels, np.ndarray)):
            continue
        left = per_class(preds, labels)
        for _, figures in printed:
            near = [(abs(m - f), m) for f in figures for m in left if abs(m - f) <= tolerance]
            if not near:
                break
            left.remove(min(near)[1])
        else:
            return None
    shown = ", ".join(f"{name} {100 * v[0]:.1f}%" for name, v in printed)
    return (f"the per-class accuracies printed ({shown}) are not the model's on your test "
            "set: each class's figure is the share of that class's images it gets right")
