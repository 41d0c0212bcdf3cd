"""The notebook's code as the static checks read it, without running it: the calls it
makes (with the keyword values it gives them), the functions it defines, and the cells
that could not be read as Python at all."""

from __future__ import annotations

import ast
import operator
import re
import textwrap
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, TypeVar

from graders.results import CellSummary

# cell magics whose body is Python (the others, %%bash or %%writefile, hold no Python)
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")
_ARITHMETIC: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_UNREADABLE = (ValueError, TypeError, SyntaxError, ZeroDivisionError, OverflowError)


class _Unknown:
    """A keyword value the code gives but no literal reading finds (``lr=args.lr``): it
    equals nothing, so it is neither the asked value nor the class's default."""

    def __repr__(self) -> str:
        return "<not a literal>"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Call:
    name: str  # the function's or the method's name: "SGD" for optim.SGD(...)
    kwargs: dict[str, Any]
    method: bool  # called on something (``model.train()``), not by a bare name
    args: tuple[Any, ...] = ()  # the first positional arguments, read as literals
    bound_to: str | None = None  # ``opt = SGD(...)``: the name it was assigned to


@dataclass
class Code:
    calls: list[Call] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)  # functions the notebook defines itself
    loaded: set[str] = field(default_factory=set)  # names read anywhere (not only bound)
    # top-level names whose last binding is an integer literal (``D, K, B = 7, 5, 8``)
    integers: dict[str, int] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)  # every top-level name assigned data
    unreadable: list[tuple[CellSummary, SyntaxError]] = field(default_factory=list)

    def unused(self, call: Call) -> bool:
        """Assigned to a name the notebook never reads: built, then left unused."""
        return call.bound_to is not None and call.bound_to not in self.loaded

    def problem(self) -> str | None:
        """Why some of the code could not be checked, for feedback."""
        if not self.unreadable:
            return None
        cell, error = self.unreadable[0]
        return (f"cell {cell.index + 1} is not valid Python ({error.msg}, line "
                f"{error.lineno}), so what it constructs and calls could not be checked")


@lru_cache(maxsize=512)
def parse(text: str) -> ast.Module | SyntaxError:
    """``text`` parsed, or the error that stopped it: once per text however many readers
    (the calls, the definitions, the figures, the answers) look at a cell. Shared, so
    read only."""
    try:
        return ast.parse(text)
    except SyntaxError as error:
        return error


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``, in its order (breadth first), without its generator per node: the
    readers of a notebook's code spend most of their time walking trees."""
    todo = deque([node])
    pop, push = todo.popleft, todo.append
    while todo:
        current = pop()
        for name in current._fields:
            child = getattr(current, name, None)
            if isinstance(child, ast.AST):
                push(child)
            elif isinstance(child, list):
                for item in child:
                    if isinstance(item, ast.AST):
                        push(item)
        yield current


_LOOPS = (ast.For, ast.While, ast.comprehension)
N = TypeVar("N", bound=ast.AST)


@dataclass(frozen=True, eq=False)
class Index:
    """One walk of one text's tree, shared by every reader of it (the calls and their
    settings, the training loops, the drawing calls, the free names, the names
    referenced, the numeric-gradient and autograd readings): walking a tree costs more
    than parsing it, and a notebook's code was walked once per reader. Read only."""

    tree: ast.Module | None
    nodes: tuple[ast.AST, ...]  # every node, in ``ast.walk``'s order (breadth first)
    # each top-level statement's nodes, in ``ast.walk``'s order of that statement
    statements: tuple[tuple[ast.AST, ...], ...]
    # by a node's id: the innermost ``def`` around it (the def itself: the one around it)
    function: Mapping[int, ast.FunctionDef]
    looped: frozenset[int]  # the ids of the nodes inside a for, a while or a comprehension
    kinds: Mapping[type[ast.AST], tuple[ast.AST, ...]]  # the nodes of each type, in order

    def of(self, kind: type[N]) -> tuple[N, ...]:
        return self.kinds.get(kind, ())  # type: ignore[return-value]


_NO_INDEX = Index(None, (), (), MappingProxyType({}), frozenset(), MappingProxyType({}))


@lru_cache(maxsize=1024)
def index(text: str) -> Index:
    """``text``'s tree walked once (breadth first, as ``ast.walk``), each node with the
    top-level statement, the function and the loops it is in; the empty index when it
    does not parse."""
    tree = parse(text)
    if not isinstance(tree, ast.Module):
        return _NO_INDEX
    every: list[ast.AST] = [tree]
    statements: list[list[ast.AST]] = [[] for _ in tree.body]
    function: dict[int, ast.FunctionDef] = {}
    looped: set[int] = set()
    kinds: dict[type[ast.AST], list[ast.AST]] = {ast.Module: [tree]}
    todo: deque[tuple[ast.AST, list[ast.AST], ast.FunctionDef | None, bool]] = deque(
        (statement, statements[i], None, False) for i, statement in enumerate(tree.body))
    pop, push, add = todo.popleft, todo.append, every.append
    while todo:
        current, own, around, inside = pop()
        add(current)
        own.append(current)
        kind = type(current)
        bucket = kinds.get(kind)
        if bucket is None:
            kinds[kind] = [current]
        else:
            bucket.append(current)
        if around is not None:
            function[id(current)] = around
        if inside:
            looped.add(id(current))
        inner = current if isinstance(current, ast.FunctionDef) else around
        deeper = inside or kind in _LOOPS
        for name in current._fields:
            child = getattr(current, name, None)
            if isinstance(child, ast.AST):
                push((child, own, inner, deeper))
            elif isinstance(child, list):
                for item in child:
                    if isinstance(item, ast.AST):
                        push((item, own, inner, deeper))
    return Index(tree, tuple(every), tuple(tuple(own) for own in statements),
                 MappingProxyType(function), frozenset(looped),
                 MappingProxyType({k: tuple(v) for k, v in kinds.items()}))


def walked(source: str) -> Index:
    """The index of ``source`` dedented (a method's text is indented)."""
    return index(textwrap.dedent(source))


def nodes(source: str) -> tuple[ast.AST, ...]:
    """Every node of ``source`` (dedented: a method's text), in ``ast.walk``'s order;
    empty when it does not parse (the text's index's). Read only."""
    return walked(source).nodes


def python(source: str) -> str | None:
    """The cell's Python: IPython's magics and shell escapes (``%matplotlib inline``,
    ``!pip install``) blanked, line numbers kept; None for a cell of another language."""
    first = source.lstrip().split(None, 1)[0] if source.strip() else ""
    if first.startswith("%%") and first not in _PYTHON_CELL_MAGICS:
        return None
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def value(node: ast.AST, constants: dict[str, Any]) -> Any:
    """A literal, a name bound to one earlier (``lr = 1e-3`` ... ``lr=lr``), or arithmetic
    of those (``10**-3``, ``1 / 1000``); raises when it is none of them."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = value(node.left, constants), value(node.right, constants)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool)
                      for v in (left, right))
        if not numbers or (isinstance(node.op, ast.Pow) and abs(right) > 64):
            raise ValueError("not arithmetic of numbers")
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = value(node.operand, constants)
        if not isinstance(operand, int | float):
            raise ValueError("not a number")
        return -operand if isinstance(node.op, ast.USub) else operand
    return ast.literal_eval(node)


def _readable(node: ast.AST, constants: dict[str, Any]) -> Any:
    # the common cases without an exception: a call's arguments are mostly names,
    # attributes and calls, which no literal reading finds
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id, UNKNOWN)
    if isinstance(node, ast.Attribute | ast.Subscript | ast.Lambda | ast.Compare
                  | ast.JoinedStr | ast.ListComp | ast.GeneratorExp) or (
            isinstance(node, ast.Call) and getattr(node.func, "id", None) != "set"):
        return UNKNOWN
    try:
        return value(node, constants)
    except _UNREADABLE:
        return UNKNOWN


def read(cells: Sequence[CellSummary]) -> Code:
    """Every call in the code cells, in order, with its keyword values (and ``lr`` given
    second positionally, as in ``SGD(params, 0.01)``). Read once per notebook: several
    checks of a grading ask for it (the result is shared; callers only read it)."""
    return _read(tuple(cells))


@lru_cache(maxsize=8)
def _read(cells: tuple[CellSummary, ...]) -> Code:
    code = Code()
    dynamic, listed = False, []
    constants: dict[str, Any] = {}
    for cell in cells:
        if cell.kind != "code":
            continue
        source = python(cell.source)
        if source is None:
            continue
        tree = parse(source)
        if isinstance(tree, SyntaxError):
            code.unreadable.append((cell, tree))
            continue
        walked_tree = index(source)
        for statement, walked in zip(walked_tree.tree.body if walked_tree.tree else (),
                                     walked_tree.statements, strict=True):
            if isinstance(statement, ast.Assign):
                known = _readable(statement.value, constants)
                for target in statement.targets:
                    if isinstance(target, ast.Name) and known is not UNKNOWN:
                        constants[target.id] = known
                _integers(statement, constants, code.integers)
            if isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = statement.targets if isinstance(statement, ast.Assign) \
                    else [statement.target]
                code.assigned |= {n.id for t in targets for n in walk(t)
                                  if isinstance(n, ast.Name)}
            # one walk: ast.walk visits an assignment before its value, so a call knows
            # the name it is bound to when it is reached
            bound = {}
            for node in walked:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name) \
                        and isinstance(node.value, ast.Call):
                    bound[id(node.value)] = node.targets[0].id
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    code.defined.add(node.name)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    code.loaded.add(node.id)
                if isinstance(node, ast.Call):
                    call = _call(node, constants)
                    if id(node) in bound:
                        call = replace(call, bound_to=bound[id(node)])
                    code.calls.append(call)
                    dynamic = dynamic or _optim_getattr(node)
                elif isinstance(node, ast.Tuple | ast.List):
                    listed += _listed_setting(node, constants)
    if dynamic:
        # getattr(torch.optim, name)(params, **kw) over a list of (name, settings): each
        # pair is a constructor call the code makes, however it is spelled
        code.calls += listed
    return code


def _integers(statement: ast.Assign, constants: dict[str, Any], found: dict[str, int]) -> None:
    """Each name the assignment binds, as an integer when it is one, forgotten when the
    name is bound to anything else (a later ``B = X.shape[0]``)."""
    pairs: list[tuple[ast.expr, ast.expr | None]] = []
    for target in statement.targets:
        if isinstance(target, ast.Tuple | ast.List) and isinstance(statement.value,
                                                                     ast.Tuple | ast.List) \
                and len(target.elts) == len(statement.value.elts):
            pairs += list(zip(target.elts, statement.value.elts, strict=True))
        elif isinstance(target, ast.Tuple | ast.List):
            pairs += [(t, None) for t in target.elts]
        else:
            pairs.append((target, statement.value))
    for target, node in pairs:
        if not isinstance(target, ast.Name):
            continue
        known = _readable(node, constants) if node is not None else UNKNOWN
        if isinstance(known, int) and not isinstance(known, bool):
            found[target.id] = known
        else:
            found.pop(target.id, None)


def _small(node: ast.AST) -> bool:
    """A step's size: a literal or constant arithmetic (``10**-5``, ``1 / 1e5``) in
    (0, 1e-2]."""
    if not isinstance(node, ast.Constant | ast.BinOp | ast.UnaryOp):
        return False
    try:
        number = value(node, {})
    except _UNREADABLE:
        return False
    return isinstance(number, int | float) and not isinstance(number, bool) \
        and 0 < abs(number) <= 1e-2


def free_names(source: str) -> frozenset[str]:
    """The names a function's source reads but neither takes as a parameter nor binds
    itself: the notebook's globals (and builtins) it depends on."""
    bound: set[str] = set()
    loaded: list[str] = []
    for n in nodes(source):
        if isinstance(n, ast.FunctionDef | ast.Lambda):
            bound |= {a.arg for a in (*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs,
                                      *(x for x in (n.args.vararg, n.args.kwarg) if x))}
            if isinstance(n, ast.FunctionDef):
                bound.add(n.name)
        elif isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load):
                loaded.append(n.id)
            else:
                bound.add(n.id)
    return frozenset(n for n in loaded if n not in bound)


def _called(source: str) -> set[str]:
    """The names ``source`` calls by a bare name (``f(x)``, not ``np.f(x)``)."""
    return {n.func.id for n in walked(source).of(ast.Call)
            if isinstance(n.func, ast.Name)}


_DYNAMIC = frozenset({"exec", "eval", "compile", "FunctionType", "globals"})


def made_unread(cells: Sequence[CellSummary], sources: Sequence[str]) -> str | None:
    """A name the sources call that no cell's text binds, in a notebook that makes code
    from strings (``exec("def _rows(X): ...")``): what it runs cannot be read, so no
    reading of the sources answers for it. None when every name is accounted for, or
    nothing is made from strings."""
    import builtins

    indexes = [walked(python(c.source) or "") for c in cells if c.kind == "code"]
    names = [n for w in indexes for n in w.of(ast.Name)]
    if not any(n.id in _DYNAMIC for n in names):
        return None
    bound = {n.id for n in names if isinstance(n.ctx, ast.Store)}
    for w in indexes:
        bound |= {n.name for n in w.of(ast.FunctionDef)} | {
            n.name for n in w.of(ast.AsyncFunctionDef)} | {n.name for n in w.of(ast.ClassDef)}
        bound |= {(a.asname or a.name).split(".")[0] for n in w.of(ast.Import)
                  for a in n.names} | {(a.asname or a.name).split(".")[0]
                                       for n in w.of(ast.ImportFrom) for a in n.names}
    known = bound | set(dir(builtins))
    # a name the source binds itself (a parameter ``f``, a local) is not the notebook's
    called = {name for source in sources for name in _called(source) & free_names(source)}
    unread = sorted(called - known)
    return unread[0] if unread else None


def _optim_getattr(node: ast.Call) -> bool:
    """``getattr(torch.optim, name)`` or ``getattr(optim, name)``."""
    if getattr(node.func, "id", None) != "getattr" or not node.args:
        return False
    target = node.args[0]
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "optim"


def _listed_setting(node: ast.Tuple | ast.List, constants: dict[str, Any]) -> list[Call]:
    """``("SGD", dict(lr=0.01))`` or ``("Adam", {"lr": 1})``: an optimizer by name with
    its settings, as a list of experiments spells them."""
    if len(node.elts) != 2:
        return []
    name, settings = node.elts
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)
            and name.value[:1].isupper() and name.value.isidentifier()):
        return []
    kwargs: dict[str, Any] = {}
    if isinstance(settings, ast.Call) and getattr(settings.func, "id", None) == "dict" \
            and not settings.args:
        kwargs = {str(kw.arg): _readable(kw.value, constants) for kw in settings.keywords}
    elif isinstance(settings, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in settings.keys):
        kwargs = {k.value: _readable(v, constants)  # type: ignore[union-attr]
                  for k, v in zip(settings.keys, settings.values, strict=True)}
    else:
        return []
    return [Call(name.value, kwargs, False)]


def _call(node: ast.Call, constants: dict[str, Any]) -> Call:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    kwargs = {str(kw.arg): _readable(kw.value, constants) for kw in node.keywords}
    if len(node.args) > 1 and "lr" not in kwargs:
        kwargs["lr"] = _readable(node.args[1], constants)
    if name == "SGD" and len(node.args) > 2 and "momentum" not in kwargs:
        kwargs["momentum"] = _readable(node.args[2], constants)  # SGD(params, lr, momentum)
    args = tuple(_readable(a, constants) for a in node.args[:2])
    return Call(name, kwargs, isinstance(func, ast.Attribute), args)


def savefig_calls(source: str) -> int:
    """How many figures the cell writes with ``plt.savefig``."""
    text = python(source)
    tree = parse(text) if text is not None else None
    if not isinstance(tree, ast.Module):
        return 0
    return sum(1 for node in walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "attr", getattr(node.func, "id", "")) == "savefig")


@lru_cache(maxsize=1024)
def definitions(source: str) -> Mapping[str, str]:
    """The functions ``source`` defines at its top level, by name: the last definition of
    each (with its decorators), as written; a lambda bound to a name (``sigmoid = lambda
    z: ...``) as its assignment; each method of a top-level class as ``Class.method``,
    dedented. Empty when it is not Python. Read-only and memoised: every candidate and
    check reads the same cells."""
    tree, lines = _module(source)
    found = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = _text(lines, node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Lambda):
            found[node.targets[0].id] = _text(lines, node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{item.name}"] = textwrap.dedent(_text(lines, item))
    return MappingProxyType(found)


@lru_cache(maxsize=1024)
def aliases(source: str) -> Mapping[str, str]:
    """Top-level names bound to a class's method (``predict = TwoLayerNet.predict``): the
    method, as ``definitions`` names it."""
    tree, _ = _module(source)
    found = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Attribute) \
                and isinstance(node.value.value, ast.Name):
            found[node.targets[0].id] = f"{node.value.value.id}.{node.value.attr}"
    return MappingProxyType(found)


_WRITTEN_MODULE = re.compile(r"\s*%%(?:writefile|file)\s+(?:-a\s+)?\S+\.py\s*(?:\n|$)")


@lru_cache(maxsize=256)  # one parse per cell for its definitions, aliases and imports
def _module(source: str) -> tuple[ast.Module | None, tuple[str, ...]]:
    # a module the notebook writes (``%%writefile hw3_net.py``) and imports: its
    # functions are the notebook's own, read as a cell's (line numbers kept)
    code = _module_code(source)
    if code is None:
        return None, ()
    tree = parse(code)
    if isinstance(tree, SyntaxError):
        return None, ()
    return tree, tuple(code.splitlines())


def _module_code(source: str) -> str | None:
    written = _WRITTEN_MODULE.match(source)
    return "\n" + source[written.end():] if written else python(source)


def _text(lines: tuple[str, ...], node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", ())
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return "\n".join(lines[first - 1:node.end_lineno]) + "\n"


def defined_in(cells: Sequence[CellSummary], symbol: str, cell: int | None, *,
               as_defined: bool = False) -> tuple[str | None, dict[str, str]]:
    """What the notebook's own text says ``symbol`` is, read on the host: its definition
    in the cell that bound it, and the notebook's functions it calls (transitively, each
    as last defined by the end of the notebook or, ``as_defined``, by that cell: the
    binding graded with the helpers it used when it was defined). The kernel's report of
    a function's source is not evidence: ``inspect`` follows ``__wrapped__``, and
    student code can answer for the probe."""
    code_cells = [c for c in cells if c.kind == "code"]
    if cell is None:
        return None, {}
    every: dict[str, str] = {}
    for c in code_cells:
        if not as_defined or c.index <= cell:
            every.update(definitions(c.source))
    binding = next((c for c in code_cells if c.index == cell), None)
    own = definitions(binding.source).get(symbol) if binding is not None else None
    if own is None and binding is not None:
        method = aliases(binding.source).get(symbol)  # a class's method, bound here
        own = every.get(method) if method else None
    if own is None:
        return None, {}
    helpers: dict[str, str] = {}
    pending = _names(own)
    while pending and len(helpers) < 20:
        name = pending.pop()
        if name in helpers or name == symbol or name not in every:
            continue
        helpers[name] = every[name]
        pending |= _names(every[name])
    return own, helpers


def referenced(source: str) -> frozenset[str]:
    """Every name and attribute the source mentions (``scipy.optimize.approx_fprime``
    mentions scipy, optimize and approx_fprime); empty when it does not parse."""
    cell = walked(source)
    return frozenset([*(n.id for n in cell.of(ast.Name)),
                      *(n.attr for n in cell.of(ast.Attribute))])


@lru_cache(maxsize=1024)
def imported_as(source: str) -> Mapping[str, str]:
    """Names a cell's imports bind to another name (``from scipy.optimize import
    approx_fprime as af``: af -> approx_fprime)."""
    if " as " not in source:  # most cells: no walk needed to know there is no alias
        return MappingProxyType({})
    code = _module_code(source)
    found = {}
    for node in index(code).nodes if code is not None else ():
        if type(node) is ast.ImportFrom or type(node) is ast.Import:
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name.rsplit(".", 1)[-1]
    return MappingProxyType(found)


def _names(source: str) -> set[str]:
    # a class's method called through its class (``Backprop.batch(...)``) is a helper too
    cell = walked(source)
    return {n.id for n in cell.of(ast.Name)} | {
        f"{n.value.id}.{n.attr}" for n in cell.of(ast.Attribute)
        if isinstance(n.value, ast.Name)}


def finite_difference(source: str, callables: frozenset[str] = frozenset(), *,
                      step: bool = True) -> str | None:
    """A difference of one function at two different arguments (``loss(w + h) -
    loss(w - h)``, directly or through names it assigned), as the source of the first
    one found: what estimating a derivative numerically looks like, written by hand.
    Only functions in ``callables`` (the notebook's own), defined in ``source`` or passed
    to it (``f`` in ``numerical_gradient(f, x)``) count: ``np.exp(a) - np.exp(b)`` is a
    formula, not an estimate; and the source must hold a step, a literal of at most 1e-2
    (``h=1e-5``): ``x_1 - sigmoid(z_2)`` alone is not an estimate of anything (``step``
    False: the caller has seen the step elsewhere)."""
    every = nodes(source)
    if not every or (step and not any(_small(n) for n in every)):
        return None
    local = {n.name for n in every if isinstance(n, ast.FunctionDef)} | {
        t.id for n in every if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Lambda) for t in n.targets if isinstance(t, ast.Name)}
    passed = {a.arg for n in every if isinstance(n, ast.FunctionDef | ast.Lambda)
              for a in (*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs)}
    known = callables | local | passed
    assigned: dict[str, list[ast.expr]] = {}
    for n in every:
        if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign) and n.value is not None:
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    assigned.setdefault(t.id, []).append(n.value)

    def calls(node: ast.expr) -> list[tuple[ast.Call, bool]]:
        """The calls an operand's value comes from: (call, direct). A direct call is the
        operand or a name's whole assigned value; a nested one sits inside (``np.array(
        [f(w + e) for e in E])``, ``np.apply_along_axis(lambda e: f(w + e), ...)``)."""
        values = assigned.get(node.id, []) if isinstance(node, ast.Name) else [node]
        found: list[tuple[ast.Call, bool]] = []
        for value in values:
            found += [(c, c is value) for c in walk(value) if isinstance(c, ast.Call)]
        return found

    def callee(call: ast.Call) -> str | None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else None
        return name if name in known else None

    def differ(left: tuple[ast.Call, bool], right: tuple[ast.Call, bool]) -> bool:
        # two direct calls may read the same text at two states (``f(x)`` after each
        # step); nested ones must differ in their arguments: ``s(z) - s(z) ** 2`` is
        # the sigmoid's derivative, not a difference quotient
        if left[0] is right[0]:
            return False
        if left[1] and right[1]:
            return True
        return ast.dump(left[0]) != ast.dump(right[0])

    for n in every:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub):
            pair = (n.left, n.right)
        elif isinstance(n, ast.Call) and len(n.args) == 2 and getattr(
                n.func, "attr", getattr(n.func, "id", None)) == "subtract":
            pair = (n.args[0], n.args[1])  # np.subtract(fp, fm)
        else:
            continue
        for left in calls(pair[0]):
            for right in calls(pair[1]):
                name = callee(left[0])
                if name and name == callee(right[0]) and differ(left, right):
                    return ast.unparse(n)
    return None
