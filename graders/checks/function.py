"""Function values: the student's function called on inputs the host drew, compared with
the reference's values; the gradient and numerical-stability variants of it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence
from graders.inputs import PlannedCall
from graders.results import CallStatus, ProbeRecord
from graders.scoring.compare import reference_leaves
from graders.scoring.function import CheckScore, Fault, score_function_check
from graders.scoring.models.code import (
    defined_in,
    definitions,
    finite_difference,
    free_names,
    imported_as,
    nodes,
    read,
    referenced,
)
from graders.scoring.values import WireFormatError, decode_plain
from graders.spec import (
    Case,
    Diagnosis,
    Fixed,
    FunctionCheck,
    GradientCheck,
    Keyed,
    Mapping,
    Mistake,
    Normal,
    Ordered,
    StabilityCheck,
    Value,
    cases,
)


def _records(ev: Evidence) -> dict[str, ProbeRecord]:
    """Each planned call's result for this candidate (or for the one binding, -1)."""
    found = {}
    for call in ev.calls:
        record = ev.records.get((call.call_id, ev.candidate if ev.candidate is not None
                                 else -1)) or ev.records.get((call.call_id, -1))
        if record is not None:
            found[call.call_id] = record
    return found


def score_values(check: FunctionCheck, ev: Evidence) -> CheckScore:
    return score_function_check(check, list(ev.calls), _records(ev), ev.cache,
                                coincidence=_coincidence(check, ev))


def score_gradient(check: GradientCheck, ev: Evidence) -> CheckScore:
    how = _numeric(check, ev)
    if how:
        return CheckScore(0.0, [
            f"{check.symbol}() estimates the gradient numerically ({how}); the handout asks "
            "for the gradient derived by backpropagation"])
    return score_function_check(check, list(ev.calls), _records(ev), ev.cache,
                                coincidence=_coincidence(check, ev))


def _written(check: FunctionCheck, ev: Evidence) -> list[str]:
    """The graded definition's text and its notebook helpers', as the notebook has them
    (the kernel's account of a function's source is not evidence: student code can
    answer for it); empty when the notebook does not define it in a cell we can read."""
    candidate = ev.candidates.get((check.symbol, ev.candidate)) \
        if ev.candidate is not None else None
    if candidate is None or ev.models is None:
        return []
    own, helpers = defined_in(ev.models.cells, check.symbol, candidate.cell,
                              as_defined=candidate.variant == "as defined")
    return [s for s in (own, *helpers.values()) if s]


def _coincidence(check: FunctionCheck, ev: Evidence
                 ) -> Callable[[list[PlannedCall], list[float]], tuple[list[int], str] | None]:
    """The cases right by chance: the function reads a notebook global (not its input)
    that equals their size. ``/ B`` with the notebook's ``B = 8`` (or ``B = X.shape[0]``
    of its 8-row test data) is right on the case of 8 rows and on no other. With the
    global's value read from the text, the cases of that size are zeroed while another
    case is wrong; with a computed value, when only the cases of one size are right.
    Those cases keep what the others earn (an output that is right everywhere keeps its
    share)."""
    read_once: list[tuple[dict[str, int], list[str]]] = []

    def globals_read() -> tuple[dict[str, int], list[str]]:
        sources = _written(check, ev)
        code = read(ev.models.cells) if sources and ev.models else None
        if code is None:
            return {}, []
        free = {n for s in sources for n in free_names(s)}
        known = {n: code.integers[n] for n in sorted(free) if n in code.integers}
        return known, sorted(n for n in free if n in code.assigned and n not in known)

    def zeroed(calls: list[PlannedCall], credits: list[float]
               ) -> tuple[list[int], str] | None:
        # read only when it can matter: some case earned something and another did not
        # (wrong work and right work, most hand-ins, are decided without it)
        if not any(c > 0 for c in credits) or all(c >= 1.0 for c in credits):
            return None
        if not read_once:
            read_once.append(globals_read())
        known, computed = read_once[0]
        varying = sorted({d for c in calls for d in c.dims
                          if len({o.dims.get(d) for o in calls}) > 1})
        for name, value in known.items():
            hit = [i for i, c in enumerate(calls) if any(c.dims.get(d) == value for d in varying)]
            if hit and credits and any(credits[i] > 0 for i in hit) and \
                    any(credits[i] < 1.0 for i in range(len(credits)) if i not in hit):
                return hit, (f"{check.symbol}() reads the notebook's global `{name}` (= {value}) "
                             "rather than the size of its input: right only on inputs of that "
                             "size, so those cases earn nothing")
        for d in varying if computed else ():
            right = {calls[i].dims.get(d) for i, c in enumerate(credits) if c >= 1.0}
            others = [i for i, c in enumerate(calls) if c.dims.get(d) not in right]
            # one row is what code written for a single sample is right on (said apart)
            if len(right) == 1 and right != {1} and others and \
                    all(credits[i] < 1.0 for i in others):
                size = next(iter(right))
                hit = [i for i, c in enumerate(credits) if c >= 1.0]
                return hit, (f"{check.symbol}() is right only on inputs with {d}={size} and "
                             f"reads the notebook's {', '.join(f'`{n}`' for n in computed)}: "
                             "a global that happens to match that size is not the input's "
                             "own, so those cases earn nothing")
        return None
    return zeroed


def _numeric(check: GradientCheck, ev: Evidence) -> str | None:
    """How the graded definition or its notebook helpers estimate the gradient instead
    of deriving it: a numeric-differentiation function the spec names, or a difference
    of one function at two nearby points written by hand, read from the notebook's
    text."""
    sources = _written(check, ev) if check.numeric else []
    if not sources or ev.models is None:
        return None
    code_cells = [c for c in ev.models.cells if c.kind == "code"]
    names = set().union(*(referenced(s) for s in sources))
    # imported under another name anywhere in the notebook
    renamed = {alias: name for c in code_cells
               for alias, name in imported_as(c.source).items() if name in check.numeric}
    used = sorted({renamed.get(n, n) for n in names} & set(check.numeric))
    if used:
        return f"it uses {', '.join(used)}"
    if "autograd" in check.numeric and _autograd(sources):
        return "it takes the gradient from autograd (.backward(), .grad)"
    notebook = frozenset(n for c in code_cells for n in definitions(c.source)) | {check.loss}
    # one text: the step may be set where the helper is called
    difference = finite_difference("\n\n".join(sources), notebook)
    if difference:
        return f"it takes `{difference}`, a difference of one function at two nearby points"
    return None


def _autograd(sources: list[str]) -> bool:
    """torch's autograd run: ``loss.backward()`` or a tensor's ``.grad`` read (an
    attribute: a variable named ``grad`` is the student's own)."""
    return any(isinstance(n, ast.Attribute) and n.attr in ("backward", "grad")
               for source in sources for n in nodes(source))


def score_stability(check: StabilityCheck, ev: Evidence) -> CheckScore:
    records = _records(ev)

    def weight(call: PlannedCall) -> float:
        # an extreme input whose answer is 0 (a loss far on the right side) is answered
        # by any overflow guard, clipping included: only the cases with a real answer
        # to get right earn credit. Unless it is not answered at all: inf or NaN there
        # (the handout's own example, y = 0 at z = -1e10) is the instability asked about
        try:
            leaves = reference_leaves(ev.cache.value(check.reference_name, call),
                                      check.output)
            values = np.concatenate([np.ravel(v) for _, v in leaves])
        except (TypeError, ValueError):
            return 1.0
        trivial = values.size and np.all(np.abs(values) < 1e-6)
        # answered in any layout the case is credited on (columns, where the handout's
        # layout raised): finite there, it says nothing
        answers = [records.get(c.call_id) for c in ev.calls
                   if c.call_id == call.call_id or c.base == call.call_id]
        return 0.0 if trivial and any(_finite(r) for r in answers) else 1.0

    score = score_function_check(check, list(ev.calls), _records(ev), ev.cache,
                                 passed_note=f"{check.symbol}() is numerically stable on "
                                             "extreme inputs", weight=weight)
    if not ev.correct_so_far and score.fraction:
        # Extreme inputs often have trivial answers (a loss of 0): a constant must not
        # collect them. Credited once ordinary inputs are right.
        return CheckScore(0.0, [f"stability of {check.symbol}() on extreme inputs is only "
                                "credited once it returns correct results on ordinary "
                                "inputs"], score.fault)
    return score


def _finite(record: ProbeRecord | None) -> bool:
    """The call returned numbers, every one finite."""
    if record is None or record.status is not CallStatus.OK:
        return False
    try:
        value = decode_plain(record.value)
    except WireFormatError:
        return False
    pending, numbers = [value], []
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, int | float | np.ndarray) and not isinstance(item, bool):
            numbers.append(np.asarray(item, dtype=np.float64).ravel())
    return bool(numbers) and all(np.isfinite(n).all() for n in numbers)


def _reference(check: FunctionCheck, solution: Any) -> str | None:
    if not callable(getattr(solution, check.reference_name, None)):
        return f"the reference solution has no function {check.reference_name!r}"
    if check.shares:
        outputs = len(check.output.keys) if isinstance(check.output, Keyed) else \
            len(check.output.names) if isinstance(check.output, Ordered) else 1
        if len(check.shares) != outputs or abs(sum(check.shares) - 1.0) > 1e-9 \
                or min(check.shares) <= 0:
            return (f"{check.symbol}: shares must give each of its {outputs} outputs a "
                    "positive share, summing to 1")
    return None


def _gradient_reference(check: GradientCheck, solution: Any) -> str | None:
    if not callable(getattr(solution, check.loss, None)):
        return f"the reference solution has no loss {check.loss!r}"
    return _reference(check, solution)


# ------------------------------------------------------------------------- controls
def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _naive_softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def _over_axis_0(z: np.ndarray) -> np.ndarray:
    return np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)


def _hardmax(z: np.ndarray) -> np.ndarray:
    return np.eye(z.shape[1])[z.argmax(axis=1)]


def _raises_on_overflow(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="raise"):  # the notebook ran np.seterr(all="raise")
        return _naive_softmax(z)


SOFTMAX = FunctionCheck(symbol="softmax", points=2, output=Value("the probabilities"),
                        cases=cases((Normal(("B", "K")),), {"B": 4, "K": 3},
                                    {"B": 16, "K": 5}))


def function_controls() -> list[Control[FunctionCheck]]:
    question = ctl.question_for(SOFTMAX)
    calls = ctl.planned(question)
    solution = ctl.reference(softmax=_softmax)

    def control(name: str, work: Any, credit: float,
                fault: Fault | None = None) -> Control[FunctionCheck]:
        return Control(name, SOFTMAX, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.called(calls, work),
            candidates=ctl.candidate("softmax")),
            credit, fault)

    return [
        control("softmax over each row", _softmax, 1.0),
        control("normalised over the batch axis (axis=0)", _over_axis_0, 0.0),
        control("the probabilities transposed, (K, B) for (B, K)", lambda z: _softmax(z).T,
                0.0),
        control("raises: sums over axis 2 of a 2-D batch",
                lambda z: np.exp(z) / np.exp(z).sum(axis=2), 0.0, Fault.ERRORED),
        Control("softmax never defined", SOFTMAX, ctl.evidence(
            question, solution=solution, calls=calls, candidate=None,
            records=ctl.undefined(calls)), 0.0, Fault.MISSING),
    ]


def _residual(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return X @ params["w"] + params["b"] - y


def _mse(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_residual(params, X, y) ** 2))


def _mse_gradient(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                  scale: float = 2.0) -> dict[str, np.ndarray]:
    r = _residual(params, X, y)
    return {"w": scale * X.T @ r / len(X), "b": scale * r.mean(axis=0)}


def _scaled(scale: float) -> Any:
    """The gradient times ``scale / 2``: right up to a factor (or a sign)."""
    return lambda p, X, y: _mse_gradient(p, X, y, scale=scale)


GRADIENT_CHECK = GradientCheck(
    symbol="gradient", points=4, loss="mse", wrt=0, output=Keyed(("w", "b")),
    cases=cases((Mapping.of(w=Normal(("D", 1)), b=Normal((1,))), Normal(("B", "D")),
                 Normal(("B", 1))), {"B": 5, "D": 3}, {"B": 12, "D": 4}),
    diagnoses=(Diagnosis(Mistake.SIGN_FLIP, credit=0.3,
                         feedback="the gradient has the wrong sign"),),
    numeric=("approx_fprime", "check_grad", "approx_derivative", "autograd"))
_BACKPROP = """def gradient(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return {"w": 2 * X.T @ r / len(X), "b": 2 * r.mean(axis=0)}
"""
# right to six digits, and no derivation: scipy's finite differences of the student's loss
_APPROX_FPRIME = """from scipy import optimize

def gradient(params, X, y):
    def loss_of(flat):
        return mse({"w": flat[:-1].reshape(-1, 1), "b": flat[-1:]}, X, y)
    flat = np.concatenate([params["w"].ravel(), params["b"]])
    g = optimize.approx_fprime(flat, loss_of, 1e-8)
    return {"w": g[:-1].reshape(-1, 1), "b": g[-1:]}
"""


_GLOBAL_B = """def gradient(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return {"w": 2 * X.T @ r / B, "b": 2 * r.sum(axis=0) / B}
"""
_GLOBAL_B_W = """def gradient(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return {"w": 2 * X.T @ r / B, "b": 2 * r.mean(axis=0)}
"""
# the same estimate written by hand, as a course's "check your gradient" helper does it
_CENTRAL_DIFFERENCES = """def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
    return grad

def gradient(params, X, y):
    return {k: numerical_gradient(lambda v: mse({**params, k: v}, X, y), params[k].copy())
            for k in ("w", "b")}
"""
# vectorised: every coordinate's step at once, one row of a scaled identity each
_VECTORISED_DIFFERENCES = """def gradient(params, X, y, h=1e-6):
    out = {}
    for k in ("w", "b"):
        steps = h * np.eye(params[k].size).reshape(-1, *params[k].shape)
        out[k] = np.array([mse({**params, k: params[k] + e}, X, y)
                           - mse({**params, k: params[k] - e}, X, y)
                           for e in steps]).reshape(params[k].shape) / (2 * h)
    return out
"""
_TORCH = """import torch

def gradient(params, X, y):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = ((torch.tensor(X) @ p["w"] + p["b"] - torch.tensor(y)) ** 2).mean()
    loss.backward()
    return {k: t.grad.numpy() for k, t in p.items()}
"""
# derived, and full of differences of calls that are formulas: two different functions,
# one function minus a constant
_DERIVED_WITH_HELPERS = """def residual(params, X, y):
    return X @ params["w"] + params["b"] - y

def predict(params, X):
    return X @ params["w"] + params["b"]

def gradient(params, X, y):
    r = predict(params, X) - y
    check = residual(params, X, y) - r
    assert np.allclose(check, 0) and np.allclose(np.exp(r) - np.exp(-r), 2 * np.sinh(r))
    return {"w": 2 * X.T @ r / len(X), "b": 2 * r.mean(axis=0)}
"""


def gradient_controls() -> list[Control[GradientCheck]]:
    question = ctl.question_for(GRADIENT_CHECK)
    calls = ctl.planned(question)
    solution = ctl.reference(gradient=_mse_gradient, mse=_mse)

    def control(name: str, work: Any, credit: float) -> Control[GradientCheck]:
        return Control(name, GRADIENT_CHECK, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.called(calls, work)), credit)

    def written(name: str, source: str, credit: float, work: Any = _mse_gradient,
                setup: str = "import numpy as np") -> Control[GradientCheck]:
        # the right values unless ``work`` says otherwise; what the notebook's text says
        # decides
        cells = ctl.notebook(ctl.md("### the gradient"), ctl.code(setup), ctl.code(source))
        return Control(name, GRADIENT_CHECK, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.called(calls, work),
            candidates=ctl.candidate("gradient", source),
            models=ctl.context(cells=cells)), credit)

    def over(rows: int) -> Any:
        # the mean taken over the notebook's global batch size, not the input's
        return lambda p, X, y: _mse_gradient(p, X, y, scale=2.0 * len(X) / rows)

    return [
        control("the gradient of the mean squared error", _mse_gradient, 1.0),
        written("derived: the residual times X", _BACKPROP, 1.0),
        written("scipy's approx_fprime of the student's own loss", _APPROX_FPRIME, 0.0),
        written("the same, imported under another name",
                "from scipy.optimize import approx_fprime as numeric_grad\n"
                + _APPROX_FPRIME.replace("optimize.approx_fprime", "numeric_grad"), 0.0),
        written("central differences by hand, a course's gradient-check helper",
                _CENTRAL_DIFFERENCES, 0.0),
        written("central differences vectorised over a scaled identity",
                _VECTORISED_DIFFERENCES, 0.0),
        written("derived, with differences of calls that are formulas",
                _DERIVED_WITH_HELPERS, 1.0),
        written("torch's autograd: loss.backward(), then each parameter's .grad", _TORCH, 0.0),
        written("derived, its result held in a variable named grad",
                _BACKPROP.replace("    return {", "    grad = {").rstrip() + "\n    return grad\n",
                1.0),
        # the cases have 5 and 12 rows: right on the 12-row case by the notebook's B
        written("divides by the notebook's global B = 12, right on 12 rows only",
                _GLOBAL_B, 0.0, over(12), setup="import numpy as np\nB, D = 12, 4"),
        written("the same global B = 12, unused: divides by len(X)", _BACKPROP, 1.0,
                setup="import numpy as np\nB, D = 12, 4"),
        written("divides by a global B computed from 12-row test data", _GLOBAL_B, 0.0,
                over(12), setup="import numpy as np\nX_test = np.ones((12, 4))\n"
                                "B = X_test.shape[0]"),
        written("reads a computed global and is right everywhere",
                _BACKPROP.replace("2 * X.T", "TWO * X.T").replace("2 * r", "TWO * r"), 1.0,
                setup="import numpy as np\nTWO = float(len([0, 0]))"),
        # the spec's diagnosis prices a flipped sign; nothing else is partly right
        control("the descent direction (sign flipped)", _scaled(-2.0), 0.3),
        control("the square's factor 2 dropped", _scaled(1.0), 0.0),
        control("summed over the batch (B times too large)",
                lambda p, X, y: _mse_gradient(p, X, y, scale=2.0 * len(X)), 0.0),
        # a tuple in another order than the keys': each array read as the key of its shape
        control("a tuple (b's gradient, w's gradient)",
                lambda p, X, y: tuple(_mse_gradient(p, X, y).values())[::-1], 1.0),
        # "the vector of partial derivatives": one flat vector, in the keys' order
        control("one flat vector (w's gradient, then b's)", lambda p, X, y: np.concatenate(
            [np.ravel(v) for v in _mse_gradient(p, X, y).values()]), 1.0),
        control("one flat vector in the other order (b's, then w's)",
                lambda p, X, y: np.concatenate(
                    [np.ravel(v) for v in _mse_gradient(p, X, y).values()][::-1]), 0.0),
        control("a tuple (b's, w's) with b's gradient doubled",
                lambda p, X, y: (2 * _mse_gradient(p, X, y)["b"], _mse_gradient(p, X, y)["w"]),
                0.0),
        Control("hangs on the first case", GRADIENT_CHECK, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.timed_out(calls)),
            0.0, Fault.TIMED_OUT),
        *_shared_controls(),
    ]


# each output priced on its own: w's gradient (the chain rule through X) is most of it
SHARED = replace(GRADIENT_CHECK, shares=(0.7, 0.3))


def _shared_controls() -> list[Control[GradientCheck]]:
    question = ctl.question_for(SHARED)
    calls = ctl.planned(question)
    solution = ctl.reference(gradient=_mse_gradient, mse=_mse)

    def control(name: str, w: Any, b: Any, credit: float) -> Control[GradientCheck]:
        def work(p: Any, X: Any, y: Any) -> dict[str, Any]:
            g = _mse_gradient(p, X, y)
            return {"w": w(g["w"]), "b": b(g["b"])}
        return Control(name, SHARED, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.called(calls, work)), credit)

    def same(a: Any) -> Any:
        return a

    def written(name: str, source: str, credit: float, work: Any) -> Control[GradientCheck]:
        cells = ctl.notebook(ctl.md("### the gradient"),
                             ctl.code("import numpy as np\nX_test = np.ones((12, 4))\n"
                                      "B = X_test.shape[0]"), ctl.code(source))
        return Control(name, SHARED, ctl.evidence(
            question, solution=solution, calls=calls, records=ctl.called(calls, work),
            candidates=ctl.candidate("gradient", source), models=ctl.context(cells=cells)),
            credit)

    return [
        control("shares: both right", same, same, 1.0),
        control("shares: w right, b doubled", same, lambda a: 2 * a, 0.7),
        control("shares: b right, w zeros", np.zeros_like, same, 0.3),
        # a diagnosis prices the output it explains: 0.7 + 0.3 x the sign flip's 0.3
        control("shares: w right, b's sign flipped", same, lambda a: -a, 0.79),
        control("shares: w transposed, b doubled", lambda a: a.T, lambda a: 2 * a, 0.0),
        control("shares: both zeros", np.zeros_like, np.zeros_like, 0.0),
        # w divides by the notebook's 12-row B: right on that case only; b is right on
        # every case and keeps its share there too
        written("shares: w over a global B = 12, b right", _GLOBAL_B_W, 0.3,
                lambda p, X, y: {"w": _mse_gradient(p, X, y, scale=2.0 * len(X) / 12)["w"],
                                 "b": _mse_gradient(p, X, y)["b"]}),
    ]


EXTREME = StabilityCheck(symbol="softmax", points=1, output=Value("the probabilities"), cases=(
    Case(args=(Fixed([[1000.0, 0.0, -1000.0], [0.0, 1000.0, -1000.0]]),), name="logits of 1000"),
    Case(args=(Fixed([[-1000.0, -2000.0, 5000.0]]),), name="logits of 5000"),
))


def stability_controls() -> list[Control[StabilityCheck]]:
    question = ctl.question_for(SOFTMAX, EXTREME)
    calls = ctl.planned(question, 1)
    solution = ctl.reference(softmax=_softmax)

    def control(name: str, work: Any, credit: float, fault: Fault | None = None, *,
                correct_so_far: bool = True) -> Control[StabilityCheck]:
        return Control(name, EXTREME, ctl.evidence(
            question, index=1, solution=solution, calls=calls, records=ctl.called(calls, work),
            correct_so_far=correct_so_far), credit, fault)

    return [
        control("subtracts the row maximum before exp", _softmax, 1.0),
        control("naive exp: inf / inf is nan on large logits", _naive_softmax, 0.0),
        # one-hot answers are right on these extremes and wrong on every ordinary input
        control("a one-hot argmax, wrong on ordinary inputs", _hardmax, 0.0,
                correct_so_far=False),
        control("raises FloatingPointError (np.seterr(all='raise'))", _raises_on_overflow, 0.0,
                Fault.ERRORED),
        *_loss_controls(),
    ]


def _stable_loss(y: np.ndarray, z: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _clipped_loss(y: np.ndarray, z: np.ndarray) -> float:
    z = np.clip(z, -500, 500)
    return float(np.mean(np.log1p(np.exp(z)) - y * z))


LOSS = FunctionCheck(symbol="loss", points=2, output=Value("the loss"), cases=(
    Case(args=(Fixed([0.0, 1.0, 1.0]), Fixed([-0.5, 0.3, 2.0])), name="ordinary"),))
# two of the three extremes have a loss of 0: any guard against overflow answers them
EXTREME_LOSS = StabilityCheck(symbol="loss", points=3, output=Value("the loss"), cases=(
    Case(args=(Fixed([0.0] * 5), Fixed([-1e10] * 5)), name="y = 0, z = -1e10"),
    Case(args=(Fixed([1.0, 0.0]), Fixed([1e10, -1e10])), name="y = (1, 0), z = (1e10, -1e10)"),
    Case(args=(Fixed([0.0]), Fixed([1e10])), name="y = 0, z = +1e10"),
))


def _half_stable_loss(y: np.ndarray, z: np.ndarray) -> float:
    # logaddexp for one term, log of the sigmoid for the other: 0 * log(0) is NaN at
    # y = 0, z = -1e10, where the loss is 0
    return float(np.mean(-y * np.log(1 / (1 + np.exp(-z))) + (1 - y) * np.logaddexp(0.0, z)))


def _loss_controls() -> list[Control[StabilityCheck]]:
    question = ctl.question_for(LOSS, EXTREME_LOSS)
    calls = ctl.planned(question, 1)
    solution = ctl.reference(loss=_stable_loss)

    def control(name: str, work: Any, credit: float) -> Control[StabilityCheck]:
        return Control(name, EXTREME_LOSS, ctl.evidence(
            question, index=1, solution=solution, calls=calls,
            records=ctl.called(calls, work)), credit)

    return [
        control("log(1 + e^z) - yz through logaddexp", _stable_loss, 1.0),
        # right where the loss is 0, 500 where it is 1e10: no credit for the trivial cases
        control("z clipped to [-500, 500]: 500 where the loss is 1e10", _clipped_loss, 0.0),
        # right where the loss is 1e10, NaN on the two cases whose loss is 0: those count
        control("half stable: NaN where the loss is 0", _half_stable_loss, 1 / 3),
    ]


FUNCTION = CheckKind(spec=FunctionCheck, name="function", score=score_values,
                     label=lambda c: f"{c.symbol}() values", validate=_reference,
                     calls=True, correctness=True, controls=function_controls,
                     kernel="probe")
GRADIENT = CheckKind(spec=GradientCheck, name="gradient", score=score_gradient,
                     label=lambda c: f"{c.symbol}() against the reference and finite "
                                     "differences",
                     validate=_gradient_reference, calls=True, correctness=True,
                     controls=gradient_controls, kernel="probe")
STABILITY = CheckKind(spec=StabilityCheck, name="stability", score=score_stability,
                      label=lambda c: f"{c.symbol}() on extreme inputs", validate=_reference,
                      calls=True, correctness=True, controls=stability_controls,
                      kernel="probe")
