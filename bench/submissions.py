"""A class's worth of EE-411 part-1 hand-ins, for benchmarks: correct, wrong, looping and
crashing ones, written the way students write them (the handout's headings, prints,
drafts redefined later). ``generate(folder, n)`` writes n notebooks and returns their
paths with what each one is."""

from __future__ import annotations

from pathlib import Path

import nbformat

SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"
PREDICT = ("def predict(X, W):\n    z_1 = X @ W['w_1']\n    x_1 = sigmoid(z_1)\n"
           "    z_2 = (x_1 @ W['w_2']).flatten()\n    y_hat = sigmoid(z_2)\n"
           "    return z_1, z_2, y_hat")
LOSS = ("def logistic_loss(y, y_hat):\n"
        "    return np.mean(-y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat))")
STABLE = ("def stable_logistic_loss(y, z_2):\n"
          "    return np.mean((1 - y) * z_2 + np.logaddexp(0, -z_2))")
GRADIENT = ("def gradient(X, y, W):\n    B = X.shape[0]\n    z_1 = X @ W['w_1']\n"
            "    x_1 = sigmoid(z_1)\n    y_hat = sigmoid(x_1 @ W['w_2']).flatten()\n"
            "    d_z2 = (y_hat - y).reshape(-1, 1) / B\n    grad_w2 = x_1.T @ d_z2\n"
            "    d_z1 = (d_z2 @ W['w_2'].T) * x_1 * (1 - x_1)\n    grad_w1 = X.T @ d_z1\n"
            "    return {'w_1': grad_w1, 'w_2': grad_w2}")

VARIANTS: dict[str, dict[str, str]] = {
    "correct": {},
    "correct_with_drafts": {"draft": GRADIENT.replace("/ B", "")},
    "wrong_predict": {"predict": PREDICT.replace("y_hat = sigmoid(z_2)", "y_hat = z_2")},
    "wrong_loss_sign": {"loss": LOSS.replace("np.mean(-y", "np.mean(y")},
    "unstable_loss": {"stable": STABLE.replace(
        "(1 - y) * z_2 + np.logaddexp(0, -z_2)", "-y * np.log(sigmoid(z_2)) - (1 - y) * "
        "np.log(1 - sigmoid(z_2))")},
    "gradient_no_mean": {"gradient": GRADIENT.replace(" / B", "")},
    "gradient_zeros": {"gradient": "def gradient(X, y, W):\n    return {k: np.zeros_like(v) "
                                   "for k, v in W.items()}"},
    "gradient_for_loops": {"gradient": (
        "def gradient(X, y, W):\n    B = X.shape[0]\n"
        "    g1 = np.zeros_like(W['w_1']); g2 = np.zeros_like(W['w_2'])\n"
        "    for i in range(B):\n        x = X[i:i + 1]\n        x_1 = sigmoid(x @ W['w_1'])\n"
        "        e = sigmoid(x_1 @ W['w_2']) - y[i]\n        g2 += x_1.T * e / B\n"
        "        g1 += x.T @ ((e * W['w_2'].T) * x_1 * (1 - x_1)) / B\n"
        "    return {'w_1': g1, 'w_2': g2}")},
    "gradient_hangs": {"gradient": "def gradient(X, y, W):\n    while True:\n        pass"},
    "crash_in_a_cell": {"extra": "results = run_experiment()  # NameError: never defined"},
    "kernel_dies": {"extra": "import os\nos._exit(1)  # 'restart the runtime'"},
    "missing_gradient": {"gradient": "# TODO: gradient"},
}
# a class: mostly correct, some wrong, a few that loop or crash
MIX = ["correct", "correct", "correct", "correct_with_drafts", "wrong_predict", "correct",
       "gradient_no_mean", "crash_in_a_cell", "correct", "wrong_loss_sign", "gradient_for_loops",
       "correct", "unstable_loss", "kernel_dies", "correct_with_drafts", "gradient_zeros",
       "correct", "gradient_hangs", "missing_gradient", "correct"]


def notebook(kind: str, student: int) -> nbformat.NotebookNode:
    parts = {"predict": PREDICT, "loss": LOSS, "stable": STABLE, "gradient": GRADIENT,
             **VARIANTS[kind]}
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md(f"# EE-411 Homework 3\nStudent {student}\n\n## 1 Backpropagation with logistic loss"),
        code("import numpy as np\nnp.random.seed(0)"),
        code(SIGMOID),
        md("### 1.1 predict"), code(parts["predict"]),
        code("X = np.random.randn(4, 3)\nW = {'w_1': np.random.randn(3, 2), "
             "'w_2': np.random.randn(2, 1)}\nprint([a.shape for a in predict(X, W)])"),
        md("### 1.2 logistic loss"), code(parts["loss"]),
        md("### 1.3 stable logistic loss"), code(parts["stable"]),
        code("print(stable_logistic_loss(np.zeros(5), -1e10 * np.ones(5)))"),
        md("### 1.4 derivation\n$\\partial L / \\partial w = ...$"),
        md("### 1.5 gradient"),
    ]
    if "draft" in parts:
        cells.append(code(parts["draft"]))
    cells.append(code(parts["gradient"]))
    if "extra" in parts:
        cells.append(code(parts["extra"]))
    cells.append(code("print('done')"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = cells
    return nb


def generate(folder: Path, n: int = 20) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        path = folder / f"student{i:02d}_{kind}.ipynb"
        nbformat.write(notebook(kind, i), path)
        written.append((path, kind))
    return written
