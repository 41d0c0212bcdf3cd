"""Architecture: parametric layers in order, parameter counts, required pieces; and the
notebook's own parameter-count function."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

import numpy as np

from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.accuracy import training_mistakes
from graders.scoring.models.context import (
    _CLAMP_AT_ZERO,
    ModelContext,
    _code,
    _eligible,
    _no_model,
    _where,
    calls_in_forward,
    computes,
)
from graders.scoring.models.context import (
    matches_layer as _matches,
)
from graders.spec import (
    ArchitectureCheck,
    Conv2d,
    Layer,
    LayerSpec,
    Linear,
    ParamCountCheck,
    PretrainedCheck,
    layer_parameters,
)


def _leaf_text(leaf: dict[str, Any]) -> str:
    if leaf["type"] == "Linear":
        return f"Linear({leaf.get('in_features')}, {leaf.get('out_features')})"
    if leaf["type"].startswith("Conv"):
        k = leaf.get("kernel_size")
        k = k[0] if isinstance(k, list) and k else k
        return f"{leaf['type']}({leaf.get('in_channels')}, {leaf.get('out_channels')}, " \
               f"kernel_size={k})"
    return leaf["type"]


def _spec_text(layer: LayerSpec) -> str:
    if isinstance(layer, Layer):
        return f"{layer.name}({', '.join(map(str, layer.args))})"
    def show(v: int | None) -> str:
        return "any" if v is None else str(v)

    if isinstance(layer, Linear):
        return f"Linear({show(layer.in_features)}, {show(layer.out_features)})"
    return f"Conv2d({show(layer.in_channels)}, {show(layer.out_channels)}, " \
           f"kernel_size={show(layer.kernel_size)})"


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
    for need in check.requires:
        if not computes(arch, need):
            problems.append(f"no {need.replace('_', ' ')} found (neither a module nor a "
                            "call in forward)")
        elif not _placed(check, arch, need):
            problems.append(_misplaced(check, need))
    return problems


def _agreement(check: ArchitectureCheck, arch: dict[str, Any]) -> int:
    """How far a model agrees with the spec: its layers matched in order, then the layer
    count and the parameter count. Ranks the notebook's models for this question."""
    leaves = [leaf for leaf in arch.get("leaves", []) if isinstance(leaf, dict)]
    layers = [leaf for leaf in leaves if leaf.get("type") in ("Linear", "Conv2d", "Conv1d")]
    depth = 0
    for got, want in zip(layers, check.layers, strict=False):
        if not _matches(got, want):
            break
        depth += 1
    return 4 * depth + 2 * (len(layers) == len(check.layers)) + (
        check.parameters is not None and arch.get("parameters") == check.parameters)


def score_architecture(check: ArchitectureCheck, payload: dict[str, Any],
                       ctx: ModelContext | None = None) -> CheckScore:
    found = [c for c in _eligible(payload, check.locate, include_untrained=True)
             if c.get("architecture")]
    if not found:
        return _no_model(check.locate)
    # the model that answers this question: the closest match, trained variables first.
    # Where the kernel saw an optimizer move some model's parameters, those models come
    # first: an untrained network of the handout's shape built beside the one that was
    # trained (a decoy) does not answer for it
    trained = any(c["architecture"].get("trained") is True
                  and _takes_the_input(check, c["architecture"]) for c in found)
    ranked = sorted(found, key=lambda c: (
        trained and c["architecture"].get("trained") is not True,
        -_agreement(check, c["architecture"]),
        check.input_shape is not None and _ran(c) is not None,
        len(_architecture_problems(check, c["architecture"])),
        # as many problems: the one that has the pieces asked for, misplaced or not
        -sum(computes(c["architecture"], need) for need in check.requires),
        str(c.get("label", "")).startswith("class:")))
    chosen = ranked[0]
    if chosen["architecture"].get("watched") is True:
        # the layers and functions above were read from a run that differs from every
        # other: what answers when nobody watches is another network
        return _charged(CheckScore(0.0, [
            f"{_where(chosen)} computes other outputs when its layers are observed than "
            "when it is run as the notebook runs it (the same inputs, evaluation mode, "
            "twice alike): the network described is not the one that answers"]),
            check, chosen["architecture"])
    earlier = ctx.layers_graded_before(check.layers) if ctx is not None else None
    if earlier is not None:
        return _charged(_requires_only(check, chosen, earlier), check, chosen["architecture"])
    problems = _architecture_problems(check, chosen["architecture"])
    output_ok = True
    if check.input_shape is not None:
        shape = "x".join(map(str, check.input_shape))
        failed = _ran(chosen)
        if failed is not None:
            # layers that cannot take the data were never trained on it: nothing to credit
            return CheckScore(0.0, [f"{_where(chosen)} does not run on a batch of {shape} "
                                    f"inputs, the data's shape: {failed}"])
        width = chosen["forward"]["outputs"].shape[1]
        if check.placed_head is not None and width == check.placed_head:
            return CheckScore(0.0, [f"{_where(chosen)} still gives the {width} outputs of "
                                    "the library network's own head (run on a batch of "
                                    f"{shape} inputs): its head was not replaced for the "
                                    "task's classes"])
        if _given_wrong(check, chosen):
            # what forward returns is the head, whatever layers it defines and calls (a
            # new head computed and thrown away, the backbone's 1000 outputs returned)
            output_ok = False
            problems.append(f"its forward gives {chosen['forward']['outputs'].shape[1]} "
                            f"outputs per input (run on a batch of {shape} inputs); the "
                            f"task has {getattr(check.layers[-1], 'out_features', None)} "
                            "classes")
        if check.logits and _probabilities(chosen["forward"]["outputs"]):
            output_ok = False
            problems.append("its outputs are probabilities (each row sums to 1, run on a "
                            f"batch of {shape} inputs): the output layer applies a softmax, "
                            "and CrossEntropyLoss applies its own; the output layer must "
                            "give logits")
    if chosen["architecture"].get("hooked") is True:
        # what its layers compute is rewritten by hooks (or a call of its own): not the
        # network it describes
        problems.append("forward hooks registered on it, or a way of calling it of its "
                        "own (a class's __call__), change what it computes (run through "
                        "torch's own call without hooks, it gives other outputs): its "
                        "layers are not the network that answers")
    mistakes = training_mistakes(ctx, chosen["architecture"]) if ctx is not None else []
    unused = chosen["architecture"].get("unused") or []
    if unused:
        mistakes.append(f"{_where(chosen)} defines {', '.join(map(str, unused[:6]))}"
                        f"{' and more' if len(unused) > 6 else ''}, which its forward never "
                        "calls: graded as the layers forward runs")
    if not problems:
        return _charged(CheckScore(1.0, [
            f"{_where(chosen)} has the required architecture "
            f"({chosen['architecture'].get('parameters', 0):,} parameters)", *mistakes]),
            check, chosen["architecture"])
    credit = partial_credit(check, chosen["architecture"], output_ok=output_ok)
    if _given_wrong(check, chosen) or chosen["architecture"].get("hooked") is True:
        credit = min(credit, 0.5)  # the wrong number of classes, or hooks: at most half
    return _charged(CheckScore(credit, [f"{_where(chosen)}: {problems[0]}", *problems[1:],
                                        *mistakes]), check, chosen["architecture"])


def _given_wrong(check: ArchitectureCheck, candidate: dict[str, Any]) -> bool:
    """The model's forward, run on the data's shape, returns another number of outputs
    than the task's classes."""
    last = check.layers[-1] if check.layers else None
    outputs = (candidate.get("forward") or {}).get("outputs")
    return isinstance(last, Linear) and last.out_features is not None \
        and isinstance(outputs, np.ndarray) and outputs.ndim == 2 \
        and outputs.shape[1] != last.out_features


def _takes_the_input(check: ArchitectureCheck, arch: dict[str, Any]) -> bool:
    """The network's first layer is of the question's kind and takes its input (a
    Linear of 784 inputs for an MNIST MLP): a trained network of that kind answers before
    an untrained one; a trained network of another kind (the VGG, for the MLP question)
    does not push aside the question's own, trained on a copy inside a function."""
    first = next((leaf for leaf in arch.get("leaves") or () if isinstance(leaf, dict)
                  and leaf.get("type") in ("Linear", "Conv2d", "Conv1d")), None)
    want = check.layers[0] if check.layers else None
    if first is None or want is None:
        return False
    # the layer's kind and its input, whatever its output (the agreement ranks that)
    if isinstance(want, Linear):
        return _matches(first, replace(want, out_features=None))
    if isinstance(want, Conv2d):
        return _matches(first, replace(want, out_channels=None, kernel_size=None))
    return False


def _ran(candidate: dict[str, Any]) -> str | None:
    """Why the model did not run on the data's shape (None: it ran)."""
    forward = candidate.get("forward")
    if not isinstance(forward, dict):
        return "the grader could not run it"
    if isinstance(forward.get("error"), str):
        return forward["error"]
    outputs = forward.get("outputs")
    if not isinstance(outputs, np.ndarray) or outputs.ndim != 2 or not outputs.size:
        return "it returned no outputs per input"
    return None


def _probabilities(outputs: np.ndarray) -> bool:
    """Rows that are distributions: what a softmax gives, and logits (or log-softmax
    outputs) of seeded noise never do."""
    if outputs.shape[1] < 2 or not np.all(np.isfinite(outputs)):
        return False
    return bool(np.all(outputs >= -1e-6) and np.all(outputs <= 1 + 1e-6)
                and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3))


def _settings(check: ArchitectureCheck, arch: dict[str, Any]) -> list[str]:
    """Each required setting a module of the model has otherwise ("Dropout has p = 0.1;
    the handout asks for p = 0.5")."""
    leaves = [leaf for leaf in arch.get("leaves") or () if isinstance(leaf, dict)]
    found = []
    for kind, attr, want in check.settings:
        values = [leaf.get(attr) for leaf in leaves if leaf.get("type") == kind]
        wrong = sorted({float(v) for v in values if isinstance(v, int | float)
                        and abs(v - want) > 1e-9})
        if wrong:
            found.append(f"{kind} has {attr} = {', '.join(f'{w:g}' for w in wrong)}; the "
                         f"handout asks for {attr} = {want:g}")
    return found


def _charged(score: CheckScore, check: ArchitectureCheck, arch: dict[str, Any]) -> CheckScore:
    """The score less a quarter for each setting the model has otherwise."""
    wrong = _settings(check, arch)
    if not wrong or not score.fraction:
        return score
    return CheckScore(max(0.0, score.fraction - 0.25 * len(wrong)), [*score.feedback, *wrong],
                      score.fault)


def _requires_only(check: ArchitectureCheck, chosen: dict[str, Any],
                   earlier: str) -> CheckScore:
    """Question ``earlier`` grades these layers: here only what this check adds (batch
    norm, dropout) earns credit, so a wrong layer is not charged twice and right layers
    are not paid twice. The model must still be the network (some layer right)."""
    arch = chosen["architecture"]
    what = f"{_where(chosen)}"
    if partial_credit(replace(check, requires=()), arch) == 0.0:
        return CheckScore(0.0, [f"{what} is not the network question {earlier} asks for, "
                                "so it cannot answer this one"])
    if not check.requires:
        return CheckScore(1.0, [f"{what}: its layers are graded in question {earlier}"])
    have = [need for need in check.requires if computes(arch, need)]
    misplaced = [need for need in have if not _placed(check, arch, need)]
    have = [need for need in have if need not in misplaced]
    lacking = [need.replace("_", " ") for need in check.requires
               if need not in have and need not in misplaced]
    # what this question adds is all it grades: a piece there, but not where the handout
    # puts it (batch norm on the input images only, dropout on the logits), is half one
    credit = math.floor((len(have) + len(misplaced) / 2) / len(check.requires) * 4
                        + 1e-9) / 4
    lines = [f"{what} uses " + (" and ".join(n.replace("_", " ") for n in have) or "none of ")
             + (f"; no {' and no '.join(lacking)} found (neither a module nor a call in "
                "forward)" if lacking else ""),
             f"its layers are graded in question {earlier} (not again here)"]
    if lacking and not have:
        lines[0] = f"{what}: no {' and no '.join(lacking)} found (neither a module nor a " \
                   "call in forward)"
    elif not have:
        lines[0] = f"{what}: none of what this question adds stands where it is asked"
    for need in misplaced:
        lines.append(_misplaced(check, need) + " (half the credit for it)")
    return CheckScore(credit, lines)


_PIECES = {"dropout": "Dropout", "batch_norm": "BatchNorm", "max_pool": "MaxPool"}
_LAYERS = ("Linear", "Conv2d", "Conv1d")


def _misplaced(check: ArchitectureCheck, need: str) -> str:
    piece = need.replace("_", " ")
    if need == "relu":
        return ("it applies a ReLU after fewer of its hidden layers than it has (after "
                "some hidden layer the network is linear): the handout puts one after each")
    each = dict(check.each).get(need)
    if each is not None:
        return (f"its {piece} does not follow every {each} layer; the handout puts one "
                f"after each {each}")
    after = dict(check.placed)[need]
    return (f"its {piece} does not come right after a {after} layer (the nearest layer "
            f"before it is of another kind, or there is none), or stands after the output "
            f"layer; the handout puts it after the {after} layers, inside the network")


def _placed(check: ArchitectureCheck, arch: dict[str, Any], need: str) -> bool:
    """Some module of the piece follows a layer of the kind ``check.placed`` names for it,
    and one follows each layer of the kind ``check.each`` names (in the order forward ran
    them); a piece applied as a function leaves no module to place, and is taken as
    placed."""
    if need == "relu":
        return _relu_after_each_hidden(check, arch)
    after, each = dict(check.placed).get(need), dict(check.each).get(need)
    prefix = _PIECES.get(need)
    if (after is None and each is None) or prefix is None:
        return True
    # a pooling of one pixel with stride one (MaxPool2d(1)) pools nothing: no piece
    types = {leaf.get("name"): "" if _identity(leaf) else str(leaf.get("type"))
             for leaf in arch.get("leaves") or () if isinstance(leaf, dict)}
    # every call in the order forward made it (a dropout used twice is placed by either
    # call; one pooling module called after each convolution follows each), else the
    # leaves in order
    sequence = arch.get("sequence")
    leaves = [types.get(n, "") for n in sequence] if isinstance(sequence, list) and \
        sequence else list(types.values())
    mine = [i for i, t in enumerate(leaves) if t.startswith(prefix)]
    if not mine:
        # only poolings of one pixel, and no pooling function: nowhere pooled
        return not any(isinstance(leaf, dict) and _identity(leaf)
                       for leaf in arch.get("leaves") or ()) or \
            bool(calls_in_forward(arch, need))
    if each is not None and calls_in_forward(arch, need):
        # pooled by a function too (F.max_pool2d after the last convolution): the
        # modules alone cannot say where every pooling stands
        return True
    if each is not None:
        for i, kind in enumerate(leaves):
            if kind != each:
                continue
            following = next((j for j in range(i + 1, len(leaves))
                              if leaves[j] in _LAYERS), len(leaves))
            if not any(i < j < following for j in mine):
                return False
    if after is None:
        return True
    # after such a layer (the nearest layer before it is one: a dropout after the
    # convolutions' pooling is no dropout "after the fully connected layers", a batch
    # norm in the classifier none "after the convolutions"), and before the network's
    # last layer: a dropout on the logits (after the output layer) regularises nothing
    if not (isinstance(sequence, list) and sequence):
        # the modules in the order they were declared, not run (a dropout declared after
        # every layer in __init__): after the first such layer is all that order tells
        first = next((i for i, t in enumerate(leaves) if t == after), None)
        return first is not None and any(i > first for i in mine)
    last = max((i for i, t in enumerate(leaves) if t in _LAYERS), default=-1)

    def follows(i: int) -> bool:
        before = next((leaves[j] for j in range(i - 1, -1, -1) if leaves[j] in _LAYERS), None)
        return before == after

    return any(i < last and follows(i) for i in mine)


def _identity(leaf: dict[str, Any]) -> bool:
    """A pooling module of one pixel and stride one: it passes its input through."""
    if not str(leaf.get("type", "")).startswith("MaxPool"):
        return False

    def ones(value: Any) -> bool:
        values = value if isinstance(value, list | tuple) else [value]
        return bool(values) and all(v == 1 and type(v) is int for v in values)

    return ones(leaf.get("kernel_size")) and ones(leaf.get("stride"))


_RELU_CALL = re.compile(r"(?<![\w])relu_?\s*\(")


def relu_count(arch: dict[str, Any]) -> int | None:
    """How many ReLUs the forward pass applies, where that can be counted: the ReLU
    modules it called (each call), and the ReLU calls written in the model's own forward
    (each call site; a clamp from zero too). None where forward loops or calls a method
    of its own (a call site may then run any number of times)."""
    sequence = arch.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        return None
    leaves = [leaf for leaf in arch.get("leaves") or () if isinstance(leaf, dict)]
    if any("." in str(leaf.get("name")) for leaf in leaves):
        return None  # blocks of its own: their forwards' ReLUs are not in this source
    types = {str(leaf.get("name")): str(leaf.get("type")) for leaf in leaves}
    modules = sum(types.get(str(n)) == "ReLU" for n in sequence)
    source = _code(str(arch.get("forward_source", "")))
    if not source.strip():
        return modules
    tops = {str(leaf.get("name")).split(".")[0] for leaf in leaves}
    own = {m for m in re.findall(r"self\s*\.\s*(\w+)\s*\(", source) if m not in tops}
    if re.search(r"(?<![\w])(?:for|while)(?![\w])", source) or own:
        return None
    return modules + len(_RELU_CALL.findall(source)) + len(_CLAMP_AT_ZERO.findall(source))


def _relu_after_each_hidden(check: ArchitectureCheck, arch: dict[str, Any]) -> bool:
    """A ReLU after every hidden layer (each layer but the output one): an MLP with a
    ReLU after its first layer only is a linear map after that. Judged where the ReLUs
    can be counted and the layers are the spec's number."""
    layers = [leaf for leaf in arch.get("leaves") or () if isinstance(leaf, dict)
              and leaf.get("type") in _LAYERS]
    count = relu_count(arch)
    if count is None or not check.layers or len(layers) != len(check.layers):
        return True
    return count >= len(layers) - 1


def partial_credit(check: ArchitectureCheck, arch: dict[str, Any], *,
                   output_ok: bool = True) -> float:
    """The share of the architecture that is right, in quarters: its layers (matched in
    order; a missing or extra layer counts against it; the parameter count only where
    the layers alone do not show it) and, as the other half, the activations and pooling
    it must compute. A network none of whose layers is right earns nothing; one whose
    output layer does not give the task's classes at most half; one wrong hidden layer no
    longer costs everything."""
    leaves = [leaf for leaf in arch.get("leaves", []) if isinstance(leaf, dict)]
    layers = [leaf for leaf in leaves if leaf.get("type") in ("Linear", "Conv2d", "Conv1d")]
    wrong_head = False
    if check.layers:
        last = check.layers[-1]
        if isinstance(last, Linear) and last.out_features is not None and (
                not layers or layers[-1].get("out_features") != last.out_features):
            if not layers:
                return 0.0
            # it cannot answer the task's classes (ten outputs where three are asked,
            # the checkpoint's 1000 left in place): at most half, however right the body
            wrong_head = True
        matched = sum(_matches(got, want)
                      for got, want in zip(layers, check.layers, strict=False))
        if not output_ok and layers and len(layers) >= len(check.layers) \
                and _matches(layers[len(check.layers) - 1], check.layers[-1]):
            matched -= 1  # the output layer's size is right and what it gives is not
        shape = matched / max(len(layers), len(check.layers))
        if shape < 0.25 and _same_frame(layers, check.layers):
            shape = 0.25  # the handout's depth, input and output, with other widths
        if shape == 1.0 and check.parameters is not None \
                and arch.get("parameters") != check.parameters:
            shape = 0.5  # the right layers, and yet other parameters (no biases, say)
    else:
        shape = float(check.parameters is None or arch.get("parameters") == check.parameters)
    if shape == 0.0:
        return 0.0
    if check.requires:
        computed = sum(computes(arch, need) and _placed(check, arch, need)
                       for need in check.requires)
        shape = (shape + computed / len(check.requires)) / 2
    credit = math.floor(shape * 4 + 1e-9) / 4
    return min(credit, 0.5) if wrong_head else credit




def _same_frame(layers: list[dict[str, Any]], wanted: tuple[LayerSpec, ...]) -> bool:
    """The handout's layers in kind and number, the first taking the data's input and the
    last giving the task's outputs, whatever the widths between (784-200-200-10 where
    784-100-100-10 is asked): a quarter of the layers' share, as a TA gives it."""
    spec = [w for w in wanted if isinstance(w, Linear | Conv2d)]
    if not layers or len(layers) != len(spec):
        return False
    if any(got.get("type") != ("Linear" if isinstance(want, Linear) else "Conv2d")
           for got, want in zip(layers, spec, strict=True)):
        return False
    first, last = spec[0], spec[-1]
    takes = _matches(layers[0], replace(first, out_features=None) if isinstance(
        first, Linear) else replace(first, out_channels=None, kernel_size=None))
    gives = _matches(layers[-1], replace(last, in_features=None) if isinstance(
        last, Linear) else replace(last, in_channels=None, kernel_size=None))
    return takes and gives


def true_parameters(layers: tuple[LayerSpec, ...]) -> int:
    """Parameters of a model built from these layers, as torch.nn builds it."""
    return sum(layer_parameters(layer) for layer in layers)


def score_param_count(check: ParamCountCheck, payload: dict[str, Any]) -> CheckScore:
    shown = len(check.models)
    truth = [true_parameters(m) for m in (*check.models, *check.unseen)]
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

    def rights(f: dict[str, Any]) -> list[bool]:
        results = [number(r) for r in f.get("results", [])]
        return [i < len(results) and results[i] == want for i, want in enumerate(truth)]

    chosen = max(functions, key=lambda f: sum(rights(f)))
    right = rights(chosen)
    results = [r if number(r) is None else int(number(r) or 0) for r in chosen.get("results", [])]
    if all(right):
        return CheckScore(1.0, [f"{chosen['name']}() counts parameters correctly"])
    numbers = [number(r) for r in results]
    if len(set(truth)) > 1 and len(numbers) == len(truth) and None not in numbers \
            and len(set(numbers)) == 1:
        return CheckScore(0.0, [f"{chosen['name']}() returns {results[0]!r} for every model, "
                                "whatever its layers: it does not count them"])
    if all(right[:shown]):
        return CheckScore(0.0, [
            f"{chosen['name']}() is right on the handout's models but returned "
            f"{results[shown] if shown < len(results) else None!r} for another one, which "
            f"has {truth[shown]:,} parameters: the numbers are not counted from the model"])
    wrong = right.index(False)
    got = results[wrong] if wrong < len(results) else None
    return CheckScore(sum(right[:shown]) / shown, [
        f"{chosen['name']}() returned {got!r} for model {wrong + 1} of {shown}, which "
        f"has {truth[wrong]:,} parameters"])


def _outputs(c: dict[str, Any]) -> int | None:
    """The out_features of the model's last linear layer (its head)."""
    leaves = [leaf for leaf in (c.get("architecture") or {}).get("leaves", [])
              if isinstance(leaf, dict) and leaf.get("type") == "Linear"]
    out = leaves[-1].get("out_features") if leaves else None
    return out if isinstance(out, int) else None


def _shaped_like_checkpoint(match: dict[str, Any]) -> bool:
    matched, tensors = match.get("matched"), match.get("tensors")
    return type(matched) is int and type(tensors) is int and tensors > 0 \
        and matched >= tensors / 2


def score_pretrained(check: PretrainedCheck, payload: dict[str, Any]) -> CheckScore:
    found = [c for c in _eligible(payload, check.locate) if isinstance(c.get("pretrained"), dict)]
    if not found:
        return _no_model(check.locate)
    # the model that answers has the task's head: a copy of the checkpoint still with its
    # own head (loaded to look at, never fine-tuned) is not it when such a model exists
    want = check.locate.output_dim
    found = [c for c in found if want is None or _outputs(c) == want] or found
    # and it is the network that was fine-tuned, where the kernel saw an optimizer train
    # one of the checkpoint's shapes: a pretrained copy never trained, beside a network
    # trained from scratch, is no fine-tuning of pretrained weights (a small head trained
    # on its own is not of the checkpoint's shapes, and does not count here)
    found = [c for c in found if (c.get("architecture") or {}).get("trained") is True
             and _shaped_like_checkpoint(c["pretrained"])] or found
    chosen = max(found, key=lambda c: float(c["pretrained"].get("similarity") or 0.0))
    match = chosen["pretrained"]
    similarity = float(match.get("similarity") or 0.0)
    if match.get("file") is None:
        return CheckScore(0.0, [f"{_where(chosen)}: none of its weights match a pretrained "
                                "checkpoint: load them with weights=... (or the older "
                                "pretrained=True) before fine-tuning"])
    matched, tensors = match.get("matched"), match.get("tensors")
    if isinstance(matched, int) and isinstance(tensors, int) and tensors \
            and matched < tensors / 2:
        return CheckScore(0.0, [f"{_where(chosen)}: only {matched} of the {tensors} weight "
                                f"tensors of {match['file']} have a counterpart in it: the "
                                "network does not start from the pretrained weights (a "
                                "tensor or two copied in is not the pretrained network)"])
    if similarity >= check.min_similarity:
        return CheckScore(1.0, [f"{_where(chosen)} starts from the pretrained weights "
                                f"({match['file']}; similarity {similarity:.2f} over "
                                f"{match.get('matched')} weight tensors)"])
    return CheckScore(0.0, [f"{_where(chosen)}: its weights are not the pretrained ones "
                            f"(similarity {similarity:.2f} with {match['file']}); load them "
                            "with weights=... (or pretrained=True) before fine-tuning"])
