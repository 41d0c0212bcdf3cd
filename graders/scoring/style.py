"""Static style checks on a candidate's source (read from the probe, parsed here)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from graders.scoring.models.code import nodes

_LOOP_NODES: dict[type, str] = {
    ast.For: "a for loop",
    ast.AsyncFor: "a for loop",
    ast.While: "a while loop",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
}


# numpy's and Python's loops in disguise: each calls a Python function once per element
_LOOP_CALLS = {
    "vectorize": "np.vectorize (a Python loop over the elements)",
    "frompyfunc": "np.frompyfunc (a Python loop over the elements)",
    "apply_along_axis": "np.apply_along_axis (a Python loop over the rows)",
}


@dataclass(frozen=True)
class LoopFinding:
    function: str
    construct: str
    line: int


def find_loops(source: str, function: str) -> list[LoopFinding] | None:
    """Loops in ``source``; None when it cannot be parsed."""
    every = nodes(source)
    if not every:
        return None
    found = []
    for node in every:
        construct = _LOOP_NODES.get(type(node)) or _loop_call(node)
        if construct:
            found.append(LoopFinding(function, construct, getattr(node, "lineno", 0)))
    return found


def _loop_call(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id == "map":
        return "map() (a Python loop)"
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return _LOOP_CALLS.get(name)
