"""The one walk of a cell's code that every reader shares: it must hold exactly what each
reader's own walk found (the readers' outputs, on 131 recorded hand-ins, are pinned by
tests/graders/test_recorded.py)."""

from __future__ import annotations

import ast

from graders.scoring.models.code import index, nodes

CELL = '''
import torch.optim as optim

def train(model, loader, epochs=2):
    opt = optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(epochs):
        for x, y in loader:
            loss = model(x).sum(); loss.backward(); opt.step()
    return [f(v) for v in range(3)]

class Net:
    def forward(self, x):
        def inner(z):
            return relu(z)
        return inner(x)

history = [2.3, 1.1, 0.4]
'''


def test_the_index_walks_in_ast_walks_order_and_each_statement_as_its_own_walk():
    walked = index(CELL)
    tree = ast.parse(CELL)
    assert [ast.dump(n) for n in walked.nodes] == [ast.dump(n) for n in ast.walk(tree)]
    assert [[ast.dump(n) for n in own] for own in walked.statements] == [
        [ast.dump(n) for n in ast.walk(statement)] for statement in tree.body]
    assert nodes(CELL) is walked.nodes
    assert [type(n) for n in walked.of(ast.Call)] == [ast.Call] * len(walked.of(ast.Call))


def test_the_index_knows_each_nodes_function_and_whether_a_loop_holds_it():
    walked = index(CELL)
    calls = {ast.unparse(c.func): c for c in walked.of(ast.Call)}
    function = {name: walked.function.get(id(call)) for name, call in calls.items()}
    assert function["optim.SGD"].name == "train" and function["relu"].name == "inner"
    assert function["inner"].name == "forward"  # the def around the call, not the callee
    defs = {d.name: d for d in walked.of(ast.FunctionDef)}
    assert walked.function.get(id(defs["train"])) is None
    looped = {name for name, call in calls.items() if id(call) in walked.looped}
    # what a for, a while or a comprehension's clause holds (a loop's iterable among
    # them); a comprehension's element is its expression's, as the drawing count reads it
    assert looped == {"range", "model", "model(x).sum", "loss.backward", "opt.step"}


def test_a_cell_that_is_not_python_has_an_empty_index():
    assert index("def f(:\n  pass").tree is None and index("def f(:").nodes == ()
