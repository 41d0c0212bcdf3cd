"""Vectorised code: the graded function's source (and its helpers') has no loops.
Credited only on top of correct values: an empty function has no loops either. The
source is read on the host from the notebook's cells, never taken from the kernel."""

from __future__ import annotations

from graders.checks import _controls as ctl
from graders.checks.base import CheckKind, Control, Evidence
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.code import defined_in, made_unread
from graders.scoring.style import find_loops
from graders.spec import NoLoops


def score(check: NoLoops, ev: Evidence) -> CheckScore:
    candidate = ev.candidates.get((check.symbol, ev.candidate)) \
        if ev.candidate is not None else None
    if candidate is None:
        # the function checks' own words: the question says it once
        return CheckScore(0.0, [f"`{check.symbol}` is not defined in your submission"],
                          Fault.MISSING)
    if not ev.correct_so_far:
        return CheckScore(0.0, [f"vectorisation of {check.symbol}() is only credited once "
                                "it returns correct results"])
    own, helpers = defined_in(ev.models.cells if ev.models else (), check.symbol,
                              candidate.cell, as_defined=candidate.variant == "as defined")
    if own is None:
        return CheckScore(0.0, [f"could not find the `def {check.symbol}(...)` that defines "
                                f"{check.symbol}() in the notebook's code, to check it for "
                                "loops"])
    unread = made_unread(ev.models.cells if ev.models else (), [own, *helpers.values()])
    if unread:
        return CheckScore(0.0, [f"{check.symbol}() calls {unread}(), which no cell of the "
                                "notebook defines in its text (it is made from a string "
                                "with exec): its code cannot be checked for loops"])
    findings = []
    for name, source in [(check.symbol, own), *helpers.items()]:
        loops = find_loops(source, name)
        if loops is None:
            return CheckScore(0.0, [f"could not parse the source of {name}()"])
        findings += loops
    if findings:
        first = findings[0]
        where = "" if first.function == check.symbol else f" (in helper {first.function}())"
        return CheckScore(0.0, [
            f"{check.symbol}() uses {first.construct} on line {first.line}{where}; the "
            "handout asks for vectorised code without loops"
        ])
    return CheckScore(1.0, [])


PREDICT = NoLoops(symbol="predict", points=1)
_SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
_VECTORISED = """def predict(X, W):
    z_1 = X @ W["w_1"]
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
"""
_ROW_LOOP = """def predict(X, W):
    z_1 = np.zeros((len(X), W["w_1"].shape[1]))
    for i in range(len(X)):
        z_1[i] = X[i] @ W["w_1"]
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
"""
_ELEMENTWISE_SIGMOID = """def sigmoid(z):
    return np.array([1 / (1 + math.exp(-v)) for v in z.ravel()]).reshape(z.shape)
"""
_LAMBDA_SIGMOID = ("sigmoid = lambda z: np.array([1 / (1 + math.exp(-v)) "
                   "for v in np.ravel(z)]).reshape(np.shape(z))\n")
_CLASS_LOOP = """class Rows:
    @staticmethod
    def forward(X, W):
        return np.stack([x @ W["w_1"] for x in X])

def predict(X, W):
    z_1 = Rows.forward(X, W)
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
"""
_METHOD_ALIAS = """class Net:
    @staticmethod
    def predict(X, W):
        z_1 = X @ W["w_1"]
        z_2 = sigmoid(z_1) @ W["w_2"]
        return z_1, z_2, sigmoid(z_2)

predict = Net.predict
"""
_VECTORIZE = """def predict(X, W):
    logistic = np.vectorize(lambda v: 1 / (1 + math.exp(-v)))
    z_1 = X @ W["w_1"]
    z_2 = logistic(z_1) @ W["w_2"]
    return z_1, z_2, logistic(z_2)
"""


_EXEC = 'exec("def _rows(X, M):\\n    return np.array([x @ M for x in X])")\n'
_EXEC_ROWS = """def predict(X, W):
    z_1 = _rows(X, W["w_1"])
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
"""


_WRITTEN_ROWS = """from hw3_net import rows, sigmoid

def predict(X, W):
    z_1 = rows(X, W["w_1"])
    z_2 = sigmoid(z_1) @ W["w_2"]
    return z_1, z_2, sigmoid(z_2)
"""


_HANDED = """def predict(X, W, act=sigmoid):
    z_1 = X @ W["w_1"]
    z_2 = act(z_1) @ W["w_2"]
    return z_1, z_2, act(z_2)
"""


def controls() -> list[Control[NoLoops]]:
    question = ctl.question_for(PREDICT)

    def control(name: str, source: str, sigmoid: str, credit: float, *,
                correct_so_far: bool = True, reported: str | None = None
                ) -> Control[NoLoops]:
        # the notebook as the host reads it: the candidate was bound in cell 2; the
        # kernel's report of the source (``reported``) is not what is checked
        cells = ctl.notebook(ctl.code(sigmoid), ctl.md("### 1.1 predict"), ctl.code(source))
        return Control(name, PREDICT, ctl.evidence(
            question, candidates=ctl.candidate("predict", reported or source,
                                               {"sigmoid": sigmoid}),
            models=ctl.context(cells=cells), correct_so_far=correct_so_far), credit)

    return [
        control("matrix products and an element-wise sigmoid", _VECTORISED, _SIGMOID, 1.0),
        # no `for` in any def of the notebook: the looping helper is made from a string
        control("a row loop in a helper defined by exec()", _EXEC_ROWS, _SIGMOID + _EXEC, 0.0),
        # exec elsewhere in the notebook does not taint a function it does not reach,
        # nor a function it is handed (a parameter is the caller's, not a helper)
        control("exec() in the notebook, predict calls only its own helpers", _VECTORISED,
                _SIGMOID + "exec('print(1)')\n", 1.0),
        control("exec() in the notebook, predict calls the activation it is handed",
                _HANDED, _SIGMOID + "exec('print(1)')\n", 1.0),
        control("a for loop over the rows of X", _ROW_LOOP, _SIGMOID, 0.0),
        # a module the notebook writes and imports: its functions are the notebook's
        control("a row loop in a helper of a %%writefile module", _WRITTEN_ROWS,
                "%%writefile hw3_net.py\nimport numpy as np\n" + _SIGMOID
                + "def rows(X, M):\n    return np.array([x @ M for x in X])\n", 0.0),
        control("a %%writefile module of vectorised helpers", _WRITTEN_ROWS,
                "%%writefile hw3_net.py\nimport numpy as np\n" + _SIGMOID
                + "def rows(X, M):\n    return X @ M\n", 1.0),
        control("a list comprehension hidden in the helper sigmoid()", _VECTORISED,
                _ELEMENTWISE_SIGMOID, 0.0),
        control("np.vectorize: a Python loop in numpy's clothes", _VECTORIZE, _SIGMOID, 0.0),
        control("a comprehension in a sigmoid bound to a lambda", _VECTORISED,
                _LAMBDA_SIGMOID, 0.0),
        control("a comprehension in a class's method it calls", _CLASS_LOOP, _SIGMOID, 0.0),
        # a class-based hand-in: the function bound by name to its vectorised method
        control("predict = Net.predict, a vectorised method", _METHOD_ALIAS, _SIGMOID, 1.0),
        # an empty stub has no loops either: style is credited on top of right values
        control("a stub (pass) with wrong values", "def predict(X, W):\n    pass\n", _SIGMOID,
                0.0, correct_so_far=False),
        # ``predict.__wrapped__ = clean``: inspect.getsource in the kernel shows clean's
        control("a looping predict whose __wrapped__ shows a vectorised one", _ROW_LOOP,
                _SIGMOID, 0.0, reported=_VECTORISED),
        control("predict bound without a def the host can read",
                "predict = make_predict()\n", _SIGMOID, 0.0, reported=_VECTORISED),
        Control("predict never defined", PREDICT, ctl.evidence(question, candidates={}),
                0.0, Fault.MISSING),
    ]


NO_LOOPS = CheckKind(spec=NoLoops, name="no_loops", score=score,
                     label=lambda c: f"{c.symbol}() vectorised (no loops)",
                     controls=controls, kernel="probe")
