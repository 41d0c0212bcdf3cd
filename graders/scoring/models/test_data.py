"""Which data a notebook's training loops take optimizer steps on.

A loop whose body steps an optimizer on a backward pass is a training loop. What it
iterates is followed back through the assignments that made it (the last one before
the loop, in the notebook's order), through the datasets they combine and into the
function calls that pass a loader to a training function: a loader whose data hold the
test (or validation) split trains on it, however the loader itself is named
(``ConcatDataset([train_sub, test_sub])`` behind a ``poolloader``). Read from the code
alone, so nothing the kernel says can hide it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from graders.results import CellSummary
from graders.scoring.models.code import Index, index, python, walk

# a name of test data: test_loader, testloader, testset, test_sub, X_test, mnist_test;
# not test_size, n_test or test_acc (numbers about it), nor validation data (training on
# it spoils no test accuracy)
TEST_NAME = re.compile(r"(?:[A-Za-z0-9]+_)*?(?:test|testing)"
                       r"(?:_?(?:loader|set|data|dl|ds|dataset|sub|subset|split|imgs|images|"
                       r"x|y|\d+))*", re.IGNORECASE)
_COUNTS = re.compile(r"(?:n|num|len|size|frac|ratio|pct|batch|idx|index)_", re.IGNORECASE)
_DEPTH = 8  # assignments followed back from a loop

Position = tuple[int, int]  # (cell index, line)
T = TypeVar("T")
Names = dict[str, list[tuple[Position, ast.expr]]]


@dataclass(frozen=True)
class _Code:
    assigned: Names  # the notebook's own names (module level)
    local: dict[int, Names]  # each function's, by the function node's id
    calls: dict[str, list[tuple[Position, ast.Call, ast.FunctionDef | None]]]
    loops: list[tuple[Position, ast.For, ast.FunctionDef | None]]
    # each name's function definitions, in order: a call runs the one before it
    defined: dict[str, list[tuple[Position, ast.FunctionDef]]] = field(default_factory=dict)
    # names whose batch size an assignment sets (`loader.batch_sampler.batch_size = 4`)
    resized: set[str] = field(default_factory=set)

    def scopes(self, function: ast.FunctionDef | None) -> tuple[Names, ...]:
        return (self.assigned,) if function is None else (
            self.local.get(id(function), {}), self.assigned)


def steps_on_test_data(cells: Sequence[CellSummary]) -> tuple[int, str] | None:
    """(cell index, what names the test data) of the first training loop that takes
    optimizer steps on test or validation data; None when none does."""
    return _found(tuple((c.index, c.source) for c in cells if c.kind == "code"))


@lru_cache(maxsize=32)
def _found(cells: tuple[tuple[int, str], ...]) -> tuple[int, str] | None:
    try:
        return _search(cells)
    except RecursionError:
        return None  # code nested past what can be read accuses nobody


def trained_loaders(cells: Sequence[CellSummary]) -> frozenset[str]:
    """The names of what the notebook's training loops iterate (a training function's
    parameter: the names its stepping calls pass): the loaders that fed the optimizer,
    whatever others the notebook built beside them. Empty where none can be read."""
    return _iterated_names(tuple((c.index, c.source) for c in cells if c.kind == "code"))


@lru_cache(maxsize=32)
def _iterated_names(cells: tuple[tuple[int, str], ...]) -> frozenset[str]:
    try:
        code = _read(cells)
        return frozenset(expr.id for position, loop, function in code.loops
                         for expr, _, _ in _iterated(loop, position, function, code)
                         if isinstance(expr, ast.Name))
    except RecursionError:
        return frozenset()


def resized_loaders(cells: Sequence[CellSummary]) -> dict[str, int | None]:
    """Loaders whose batch size the code sets after building them (``loader.batch_size
    = 4``, ``loader.batch_sampler.batch_size = 4``: what the loader says at the end is
    not what training drew), each with the batch size its ``DataLoader(...)`` call gave
    (None where no call of its can be read)."""
    return dict(_resized(tuple((c.index, c.source) for c in cells if c.kind == "code")))


@lru_cache(maxsize=32)
def _resized(cells: tuple[tuple[int, str], ...]) -> tuple[tuple[str, int | None], ...]:
    """(read with the training-loop reader's tree: one parse serves both)"""
    code = _read(cells)
    found = []
    for name in sorted(code.resized):
        made = [value for names in (code.assigned, *code.local.values())
                for _, value in names.get(name, [])]
        built = [v for v in made if isinstance(v, ast.Call) and getattr(
            v.func, "attr", getattr(v.func, "id", None)) == "DataLoader"]
        found.append((name, _batch_argument(built[-1]) if built else None))
    return tuple(found)


def _batch_argument(call: ast.Call) -> int | None:
    given = next((k.value for k in call.keywords if k.arg == "batch_size"),
                 call.args[1] if len(call.args) > 1 else None)
    if given is None:
        return 1  # DataLoader's default
    return given.value if isinstance(given, ast.Constant) and type(given.value) is int \
        else None


def _search(cells: tuple[tuple[int, str], ...]) -> tuple[int, str] | None:
    code = _read(cells)
    for position, loop, function in code.loops:
        for expr, at, scopes in _iterated(loop, position, function, code):
            found = _test_in(expr, at, code, scopes, _DEPTH)
            if found:
                return at[0], found  # the loop's cell, or the call's that hands it the data
    return None


@lru_cache(maxsize=8)  # read once for both questions asked of a notebook's code
def _read(cells: tuple[tuple[int, str], ...]) -> _Code:
    code = _Code({}, {}, {}, [])
    for cell, source in cells:
        text = python(source)
        walked = index(text) if text is not None else None
        if walked is not None and walked.tree is not None:
            _take(code, walked, cell)
    for names in (code.assigned, *code.local.values()):
        for found in names.values():
            found.sort(key=lambda item: item[0])
    # in the order the text is read (the walk is breadth first)
    for calls in code.calls.values():
        calls.sort(key=lambda item: (item[0], item[1].col_offset))
    for defined in code.defined.values():
        defined.sort(key=lambda item: (item[0], item[1].col_offset))
    code.loops.sort(key=lambda item: (item[0], item[1].col_offset))
    return code


def _take(code: _Code, walked: Index, cell: int) -> None:
    """One cell's assignments, calls and training loops, each in its function."""
    around = walked.function
    for defined in walked.of(ast.FunctionDef):
        code.defined.setdefault(defined.name, []).append(((cell, defined.lineno), defined))
    for assign in walked.of(ast.Assign):
        for target in assign.targets:
            _assign(code, around.get(id(assign)), target, assign.value, (cell, assign.lineno))
    for annotated in walked.of(ast.AnnAssign):
        if annotated.value is not None:
            _assign(code, around.get(id(annotated)), annotated.target, annotated.value,
                    (cell, annotated.lineno))
    for call in walked.of(ast.Call):
        if isinstance(call.func, ast.Name):
            code.calls.setdefault(call.func.id, []).append(
                ((cell, call.lineno), call, around.get(id(call))))
    for loop in walked.of(ast.For):
        if _steps(loop):
            code.loops.append(((cell, loop.lineno), loop, around.get(id(loop))))


def _assign(code: _Code, function: ast.FunctionDef | None, target: ast.expr,
            value: ast.expr, at: Position) -> None:
    names = code.assigned if function is None else code.local.setdefault(id(function), {})
    if isinstance(target, ast.Name):
        names.setdefault(target.id, []).append((at, value))
    elif isinstance(target, ast.Attribute) and target.attr == "batch_size":
        root: ast.expr = target.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name):
            code.resized.add(root.id)
    elif isinstance(target, ast.Tuple | ast.List):
        paired = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(
            target.elts)
        for i, element in enumerate(target.elts):
            # `train_loader, test_loader = make_loaders(...)`: which output is made of
            # which input cannot be read, so the trail ends there
            _assign(code, function, element,
                    value.elts[i] if paired  # type: ignore[attr-defined]
                    else ast.Constant(value=None), at)


def _steps(loop: ast.For) -> bool:
    """The loop's body steps an optimizer after a backward pass."""
    called = {n.func.attr for statement in loop.body for n in walk(statement)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    return "step" in called and "backward" in called


def _iterated(loop: ast.For, at: Position, function: ast.FunctionDef | None, code: _Code
              ) -> list[tuple[ast.expr, Position, tuple[Names, ...]]]:
    """What the loop iterates, as expressions, where to read their names and in which
    scopes: a function's parameter is each argument a call of the function passes for
    it (where that call takes the optimizer steps at all)."""
    expr = loop.iter
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and \
            expr.func.id in ("enumerate", "tqdm", "iter") and expr.args:
        expr = expr.args[0]
    if function is None or not isinstance(expr, ast.Name):
        return [(expr, at, code.scopes(function))]
    params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if expr.id not in params and expr.id not in [a.arg for a in function.args.kwonlyargs]:
        return [(expr, at, code.scopes(function))]
    found = []
    for where, call, caller in code.calls.get(function.name, []):
        # the definition this call runs: a `run` redefined later to only evaluate is not
        # the one that trained
        made = _reaching(code.defined.get(function.name, []), where)
        if made is None or made[1] is not function:
            continue
        argument = _argument(call, expr.id, params) or _default(function, expr.id)
        if argument is not None and _steps_when_called(loop, function, call, params,
                                                          code, where):
            found.append((argument, where, code.scopes(caller)))
    return found


def _argument(call: ast.Call, name: str, params: list[str]) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if name in params and params.index(name) < len(call.args):
        return call.args[params.index(name)]
    return None


def _steps_when_called(loop: ast.For, function: ast.FunctionDef, call: ast.Call,
                       params: list[str], code: _Code, where: Position) -> bool:
    """Whether this call of the function reaches the optimizer's step: a step under
    ``if train:`` (``train = opt is not None``, ``if mode == "train":``), a loop under
    ``if opt is not None:``, or after ``if not train: return ...`` / ``if opt is None:
    continue``, is not taken by ``run(test_loader)`` or ``run(test_loader,
    train=False)``. Where such a guard cannot be read, the step is taken as not reached:
    a training loop on test data costs credit, so it must be plain."""
    bound = {name: _bound(_argument(call, name, params), function, name, code, where)
             for name in params}
    local = code.local.get(id(function), {})
    steps = [n.lineno for n in walk(loop) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "step"]
    first_step = min(steps, default=loop.lineno)

    def value(test: ast.expr) -> object:
        return _value(test, bound, local, (loop.lineno,), 4)

    for node in walk(function):
        if not isinstance(node, ast.If):
            continue
        inside = [branch for branch in (node.body, node.orelse)
                  if any(n is loop or (isinstance(n, ast.Call)
                                       and isinstance(n.func, ast.Attribute)
                                       and n.func.attr == "step" and n.lineno in steps)
                         for s in branch for n in walk(s))]
        exits = [branch for branch in (node.body, node.orelse)
                 if any(isinstance(n, ast.Return | ast.Continue | ast.Break)
                        for s in branch for n in walk(s))]
        if inside:
            # the loop, or its step, stands under this test: it must lead there
            taken = value(node.test)
            if taken is _UNKNOWN:
                return False
            if len(inside) == 1 and bool(taken) != (inside[0] is node.body):
                return False
        elif exits and node.lineno < first_step:
            # an early way out before the step: taken, or unreadable, the step is not
            taken = value(node.test)
            if taken is _UNKNOWN or any(bool(taken) == (branch is node.body)
                                        for branch in exits):
                return False
    return True


_UNKNOWN = object()


class _Object:
    """An argument that is some object (an optimizer passed by name, a call's result):
    truthy and not None, equal to no constant a guard compares it with."""

    def __bool__(self) -> bool:
        return True


_OBJECT = _Object()


def _default(function: ast.FunctionDef, name: str) -> ast.expr | None:
    args = function.args
    params = [a.arg for a in (*args.posonlyargs, *args.args)]
    offset = len(params) - len(args.defaults)
    if name in params and params.index(name) >= offset:
        return args.defaults[params.index(name) - offset]
    keywords = [a.arg for a in args.kwonlyargs]
    return args.kw_defaults[keywords.index(name)] if name in keywords else None


def _bound(argument: ast.expr | None, function: ast.FunctionDef, name: str,
           code: _Code, where: Position) -> object:
    """What a call passes for a parameter, as far as a guard needs it: a constant (its
    default where nothing is passed, a global name assigned one before the call), or
    some object."""
    if argument is None:
        argument = _default(function, name)
    if isinstance(argument, ast.Name):
        made = _reaching(code.assigned.get(argument.id, []), where)
        if made is not None and isinstance(made[1], ast.Constant):
            argument = made[1]
        elif made is not None:
            return _OBJECT
    if isinstance(argument, ast.Constant):
        return argument.value
    if isinstance(argument, ast.Call | ast.Attribute | ast.Lambda):
        return _OBJECT
    return _UNKNOWN


def _value(expr: ast.expr, bound: dict[str, object], local: Names, before: tuple[int],
           depth: int) -> object:
    """A guard's value for one call: parameters bound to the constants the call passes
    (or their defaults), the function's own names read from their assignments before the
    loop; _UNKNOWN for anything else."""
    if depth <= 0:
        return _UNKNOWN
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id in bound:
            return bound[expr.id]
        made = [value for (_, line), value in local.get(expr.id, []) if line < before[0]]
        return _value(made[-1], bound, local, before, depth - 1) if made else _UNKNOWN
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        inner = _value(expr.operand, bound, local, before, depth - 1)
        return _UNKNOWN if inner is _UNKNOWN else not inner
    if isinstance(expr, ast.BoolOp):
        values = [_value(v, bound, local, before, depth - 1) for v in expr.values]
        if any(v is _UNKNOWN for v in values):
            return _UNKNOWN
        return all(values) if isinstance(expr.op, ast.And) else any(values)
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1:
        left = _value(expr.left, bound, local, before, depth - 1)
        right = _value(expr.comparators[0], bound, local, before, depth - 1)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        op = expr.ops[0]
        if _OBJECT in (left, right) and None not in (left, right):
            return _UNKNOWN  # an object compared with a constant other than None
        if isinstance(op, ast.Eq | ast.Is):
            return left == right if isinstance(op, ast.Eq) else left is right
        if isinstance(op, ast.NotEq | ast.IsNot):
            return left != right if isinstance(op, ast.NotEq) else left is not right
    return _UNKNOWN


def _test_in(expr: ast.expr, at: Position, code: _Code, scopes: tuple[Names, ...],
             depth: int) -> str | None:
    """What names test data in ``expr``, following its names back to the assignments
    that reach ``at``; only the data an expression is built from (positional arguments,
    the elements of a list), not its settings (``transform=test_transform``)."""
    if depth <= 0:
        return None
    if isinstance(expr, ast.Name):
        if _test_named(expr.id):
            return expr.id
        for i, names in enumerate(scopes):
            made = _reaching(names.get(expr.id, []), at)
            if made:
                return _test_in(made[1], made[0], code, scopes[i:], depth - 1)
        return None
    if isinstance(expr, ast.Subscript):
        key = expr.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and \
                _test_named(key.value):
            return f"{ast.unparse(expr)}"
        if isinstance(key, ast.Constant) and type(key.value) is int and \
                isinstance(expr.value, ast.Name):
            # `loaders[0]` of `loaders = [train_loader, val_loader]`: that element only
            for names in scopes:
                made = _reaching(names.get(expr.value.id, []), at)
                if made is not None:
                    if isinstance(made[1], ast.List | ast.Tuple):
                        if -len(made[1].elts) <= key.value < len(made[1].elts):
                            return _test_in(made[1].elts[key.value], made[0], code, scopes,
                                            depth - 1)
                        return None
                    break
        return _test_in(expr.value, at, code, scopes, depth)
    if isinstance(expr, ast.Attribute):
        # `data.test_loader`, `test_loader.dataset`: an attribute naming test data, or
        # the data of what it is read from (not any attribute: `loaders.train` of
        # `loaders = make_loaders(train_set, test_set)` is the training one)
        if _test_named(expr.attr):
            return ast.unparse(expr)[:80]
        if expr.attr in ("dataset", "data", "datasets"):
            return _test_in(expr.value, at, code, scopes, depth - 1)
        return None
    if isinstance(expr, ast.Call):
        if _test_split(expr, at, scopes):
            return ast.unparse(expr)[:80]
        for keyword in expr.keywords:
            if keyword.arg in ("dataset", "datasets", "data"):
                found = _test_in(keyword.value, at, code, scopes, depth)
                if found:
                    return found
        for argument in expr.args:
            found = _test_in(argument, at, code, scopes, depth)
            if found:
                return found
        return None
    if isinstance(expr, ast.List | ast.Tuple | ast.Set):
        for element in expr.elts:
            found = _test_in(element, at, code, scopes, depth)
            if found:
                return found
        return None
    if isinstance(expr, ast.BinOp):
        return (_test_in(expr.left, at, code, scopes, depth)
                or _test_in(expr.right, at, code, scopes, depth))
    if isinstance(expr, ast.Starred):
        return _test_in(expr.value, at, code, scopes, depth)
    return None


# torchvision's datasets whose second parameter is ``train`` (CIFAR10(root, False))
_TRAIN_SECOND = frozenset({"MNIST", "KMNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "USPS"})
# and those whose second parameter is ``split`` (SVHN(root, "test"))
_SPLIT_SECOND = frozenset({"SVHN", "STL10", "Flowers102", "Food101", "OxfordIIITPet"})


def _test_split(call: ast.Call, at: Position, scopes: tuple[Names, ...]) -> bool:
    """A dataset made of its test split: ``train=False`` (a constant, or a name bound to
    one), ``CIFAR10(root, False)``, or ``split="test"``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else \
        func.id if isinstance(func, ast.Name) else ""
    flags = [k.value for k in call.keywords if k.arg == "train"]
    if name in _TRAIN_SECOND and len(call.args) >= 2:
        flags.append(call.args[1])
    for flag in flags:
        if isinstance(flag, ast.Name):
            made = next((m for names in scopes
                         if (m := _reaching(names.get(flag.id, []), at)) is not None), None)
            flag = made[1] if made is not None else flag
        if isinstance(flag, ast.UnaryOp) and isinstance(flag.op, ast.Not) and \
                isinstance(flag.operand, ast.Constant) and flag.operand.value:
            return True  # train=not True
        if isinstance(flag, ast.Constant) and type(flag.value) in (bool, int) \
                and not flag.value:
            return True  # train=False, train=0
    splits = [k.value for k in call.keywords if k.arg == "split"]
    if name in _SPLIT_SECOND and len(call.args) >= 2:
        splits.append(call.args[1])  # SVHN(root, "test")
    return any(isinstance(v, ast.Constant) and isinstance(v.value, str)
               and _test_named(v.value) for v in splits)


def _test_named(name: str) -> bool:
    return bool(TEST_NAME.fullmatch(name)) and not _COUNTS.match(name) \
        and "train" not in name.lower()


def _reaching(made: list[tuple[Position, T]], at: Position) -> tuple[Position, T] | None:
    """The assignment that reaches ``at``: the last one before it (a name assigned only
    later, as a function's global, read from its first assignment)."""
    before = [m for m in made if m[0] < at]
    if before:
        return before[-1]
    return made[0] if made else None
