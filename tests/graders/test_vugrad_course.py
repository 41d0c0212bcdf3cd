"""The bundled ``vugrad`` behaves as the VU course's library does where a student's work
depends on it: ``loss.zero_grad()`` resets every gradient below the loss (the course's
training loop relies on it), ``loss.clear()`` lets the next batch start afresh, and
``load_synth`` draws its classes on the course's boundary (the hidden validation set is
labelled by it, so a student who trained on the course's own copy agrees with it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from service.fixtures import course_vugrad


@pytest.fixture(scope="module")
def vg() -> Iterator[object]:
    with course_vugrad("_test_vugrad") as module:
        yield module


class _MLP:
    """The course script's two-layer network: sigmoid hidden layer, softmax output."""

    def __init__(self, vg, input_size, output_size, hidden=16):
        self.vg = vg
        self.layer1 = vg.Linear(input_size, hidden)
        self.layer2 = vg.Linear(hidden, output_size)

    def __call__(self, x):
        return self.vg.softmax(self.layer2(self.vg.sigmoid(self.layer1(x))))

    def parameters(self):
        return self.layer1.parameters() + self.layer2.parameters()


def _step(vg, mlp, x, y):
    loss = vg.celoss(mlp(vg.TensorNode(x)), y)
    loss.backward()
    return loss


def test_zero_grad_on_the_loss_resets_the_parameters_below_it(vg):
    np.random.seed(0)
    mlp = _MLP(vg, 2, 2)
    loss = _step(vg, mlp, np.random.randn(8, 2), np.array([0, 1] * 4))
    assert any(np.abs(p.grad).sum() > 0 for p in mlp.parameters())
    loss.zero_grad()
    assert all(np.abs(p.grad).sum() == 0 for p in mlp.parameters())


def test_the_courses_training_loop_learns_the_synthetic_problem(vg):
    # the course's experiments/train_mlp.py: backward, a plain update, loss.zero_grad(),
    # loss.clear(); with a zero_grad that reset only the loss the gradients pile up and
    # the run diverges
    np.random.seed(0)
    (xtrain, ytrain), (xval, yval), classes = vg.load_synth(num_train=60_000, num_val=2_000)
    mlp = _MLP(vg, 2, classes)
    for _ in range(2):
        for start in range(0, len(xtrain), 128):
            loss = _step(vg, mlp, xtrain[start:start + 128], ytrain[start:start + 128])
            for p in mlp.parameters():
                p.value -= 0.01 * p.grad
            loss.zero_grad()
            loss.clear()
    accuracy = (mlp(vg.TensorNode(xval)).value.argmax(axis=1) == yval).mean()
    assert accuracy > 0.9, accuracy


def test_clear_lets_a_parameter_start_the_next_graph_afresh(vg):
    np.random.seed(1)
    mlp = _MLP(vg, 2, 2)
    loss = _step(vg, mlp, np.random.randn(4, 2), np.array([0, 1, 1, 0]))
    loss.clear()
    assert all(p.numparents == 0 and p.visits == 0 and p.source is None
               for p in mlp.parameters())
    assert loss.source is None


def test_load_synth_labels_points_by_the_courses_boundary(vg):
    _, (x, y), classes = vg.load_synth(num_train=0, num_val=20_000)
    # the course's quadratic form: x0^2 + (0.5 + 1) x0 x1 + 0.2 x1^2 against 0.6
    course = (x[:, 0] ** 2 + 1.5 * x[:, 0] * x[:, 1] + 0.2 * x[:, 1] ** 2 > 0.6)
    assert classes == 2 and np.array_equal(y, course.astype(int))
    assert 0.2 < y.mean() < 0.8  # both classes, in earnest
