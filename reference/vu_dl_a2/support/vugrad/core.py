"""The computation graph: tensor nodes, op nodes, and the ops every graph needs.

Written for ml-autograder from the interface the VU Deep Learning course's ``vugrad``
exposes to students (see the project's design notes): a TensorNode holds a value and
its gradient; an OpNode links the op that made it to its inputs and outputs; an Op is a
class of two static methods, forward and backward, never instantiated.
"""

from __future__ import annotations

import numpy as np


class TensorNode:
    """A value in the graph: ``value`` (an array), ``source`` (the OpNode that made it,
    None for a leaf), ``grad`` (the loss's gradient, zeros until backward)."""

    def __init__(self, value, source=None, name=None):
        self.value = np.asarray(value)
        self.source = source
        self.name = name
        self.grad = np.zeros(self.value.shape)
        self.numparents = 0  # how many ops use this node
        self.visits = 0  # how many of them have sent their gradient back

    def size(self, dim=None):
        return self.value.shape if dim is None else self.value.shape[dim]

    def zero_grad(self):
        """Zero the gradient of this node and of every node below it, as the course's
        library does: ``loss.zero_grad()`` after an update resets the parameters too."""
        for node in self._below():
            if isinstance(node.grad, np.ndarray) and node.grad.shape == node.value.shape \
                    and node.grad.dtype.kind == "f":
                node.grad.fill(0.0)  # in place, as the course's does
            else:
                node.grad = np.zeros(node.value.shape)

    def clear(self):
        """Disconnect the graph below this node, so it can be collected, and reset the
        counts backward uses, so a parameter starts the next graph afresh."""
        for node in self._below():
            node.source = None
            node.visits = node.numparents = 0

    def _below(self):
        """This node and every tensor node it was computed from, each once (a shared
        input is reached by several paths; graphs can be deep, so no recursion)."""
        seen, stack, found = set(), [self], []
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            found.append(node)
            if node.source is not None:
                stack.extend(node.source.inputs)
        return found

    def backward(self, start=True):
        """Backpropagate from this (scalar) node; called on the loss."""
        if start:
            if self.value.size != 1:
                raise ValueError("backward() starts from a scalar node (the loss)")
            self.grad = np.ones(self.value.shape)
        if self.source is not None:
            self.source.visits += 1
            if self.source.visits == len(self.source.outputs):
                self.source.backward()

    def _node(self, other):
        return other if isinstance(other, TensorNode) else TensorNode(np.asarray(float(other)))

    def __add__(self, other):
        return Add.do_forward(self, self._node(other))

    def __sub__(self, other):
        return Sub.do_forward(self, self._node(other))

    def __mul__(self, other):
        return Multiply.do_forward(self, self._node(other))

    def matmul(self, other):
        return MatrixMultiply.do_forward(self, other)

    def __repr__(self):
        return f"TensorNode(shape={self.value.shape}, name={self.name!r})"


class OpNode:
    """One application of an op: its class, the context forward filled, its inputs
    (TensorNodes) and, once forward has run, its outputs."""

    def __init__(self, op, context, inputs):
        self.op = op
        self.context = context
        self.inputs = inputs
        self.outputs = None
        self.visits = 0

    def backward(self):
        """Called once every output has its gradient: compute the inputs' gradients,
        add them to what the inputs hold, and walk on to inputs all of whose users have
        reported."""
        goutputs = [output.grad for output in self.outputs]
        ginputs = self.op.backward(self.context, *goutputs)
        if not isinstance(ginputs, tuple | list):
            ginputs = (ginputs,)
        if len(ginputs) != len(self.inputs):
            raise ValueError(f"{self.op.__name__}.backward returned {len(ginputs)} gradients "
                             f"for {len(self.inputs)} inputs")
        for node, grad in zip(self.inputs, ginputs, strict=True):
            grad = np.asarray(grad)
            if grad.shape != node.value.shape:
                raise ValueError(f"{self.op.__name__}.backward: a gradient of shape "
                                 f"{grad.shape} for an input of shape {node.value.shape}")
            node.grad = node.grad + grad
        for node in self.inputs:
            node.visits += 1
            if node.source is not None and node.visits == node.numparents:
                node.backward(start=False)


    def zero_grad(self):
        """Zero the gradients of this op's inputs and of everything below them."""
        for node in self.inputs:
            node.zero_grad()


class Op:
    """Subclasses define ``forward(context, *inputs, **kwargs)`` and
    ``backward(context, *goutputs)`` as static methods; use them through do_forward."""

    @classmethod
    def do_forward(cls, *inputs, **kwargs):
        for node in inputs:
            if not isinstance(node, TensorNode):
                raise TypeError(f"{cls.__name__}.do_forward takes TensorNodes (keyword "
                                f"arguments are constants); got {type(node).__name__}")
            node.numparents += 1
        context = {}
        raw = cls.forward(context, *[node.value for node in inputs], **kwargs)
        many = isinstance(raw, tuple)
        opnode = OpNode(cls, context, list(inputs))
        outputs = [TensorNode(value, source=opnode) for value in (raw if many else (raw,))]
        opnode.outputs = outputs
        return outputs if many else outputs[0]

    @staticmethod
    def forward(context, *inputs, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(context, *goutputs):
        raise NotImplementedError


class Add(Op):
    @staticmethod
    def forward(context, a, b):
        context["shapes"] = (np.shape(a), np.shape(b))
        return a + b

    @staticmethod
    def backward(context, goutput):
        return _unbroadcast(goutput, context["shapes"][0]), \
            _unbroadcast(goutput, context["shapes"][1])


class Sub(Op):
    @staticmethod
    def forward(context, a, b):
        context["shapes"] = (np.shape(a), np.shape(b))
        return a - b

    @staticmethod
    def backward(context, goutput):
        return _unbroadcast(goutput, context["shapes"][0]), \
            -_unbroadcast(goutput, context["shapes"][1])


class Multiply(Op):
    """Element-wise."""

    @staticmethod
    def forward(context, a, b):
        context["a"], context["b"] = a, b
        return a * b

    @staticmethod
    def backward(context, goutput):
        a, b = context["a"], context["b"]
        return _unbroadcast(goutput * b, np.shape(a)), _unbroadcast(goutput * a, np.shape(b))


class MatrixMultiply(Op):
    @staticmethod
    def forward(context, a, b):
        context["a"], context["b"] = a, b
        return a @ b

    @staticmethod
    def backward(context, goutput):
        a, b = context["a"], context["b"]
        return goutput @ b.T, a.T @ goutput


def _unbroadcast(grad, shape):
    """A scalar operand broadcast over an array gets the sum of the gradient."""
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)


class Module:
    """Holds parameters (TensorNodes) and computes ``forward`` from its inputs."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def parameters(self):
        return []
