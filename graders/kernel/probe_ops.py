"""Code that runs *inside* the student's kernel: trials of autograd ops written in the
style of a course library (``vugrad``'s ``Op``: static ``forward(context, *inputs)`` and
``backward(context, goutput)``).

Like ``probe.py`` it is compiled in the kernel from source, uses only the standard
library and numpy, and knows nothing of the expected values: it reports what the op
did (outputs, gradients, finite differences of its own forward, in-place changes, the
context keys it stored and read) and the trusted side judges.
"""

import sys
import types

MAX_ELEMENTS = 4096


class _Recorder(dict):
    """The context dict backward gets: remembers which keys it read."""

    def __init__(self, data):
        super().__init__(data)
        self.read = []

    def __getitem__(self, key):
        self.read.append(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.append(key)
        return super().get(key, default)


def _library():
    """The course library as the student's files make it (imported from the home, where
    their files lie over the shipped ones)."""
    try:
        import vugrad
    except Exception:
        return None
    return vugrad


def _places(namespace):
    library = _library()
    places = [("the notebook", namespace)]
    if library is not None:
        for name in ("", ".ops", ".functions", ".core", ".modules"):
            module = sys.modules.get(library.__name__ + name)
            if module is not None:
                places.append((f"{library.__name__}{name}", vars(module)))
    return places


def _as_op(obj, library, sample):
    """The Op class behind ``obj``: the class itself, or the op a wrapper function
    (``relu(x)``) applies, found by calling it on a TensorNode."""
    if isinstance(obj, type) and callable(getattr(obj, "forward", None)) \
            and callable(getattr(obj, "backward", None)):
        return obj
    if isinstance(obj, types.FunctionType) and library is not None:
        node = library.TensorNode(sample.copy())
        out = obj(node)
        source = getattr(out, "source", None)
        op = getattr(source, "op", None)
        if isinstance(op, type):
            return op
    return None


def find_op(names, namespace, sample):
    """(op class, where, the name found under) of the first spelling found, the
    notebook's definitions before the library's, the spellings in the order given (the
    exact case before another)."""
    library = _library()
    for where, scope in _places(namespace):
        lowered = {}
        for key in list(scope):
            if isinstance(key, str) and not key.startswith("_"):
                lowered.setdefault(key.lower(), key)
        for wanted in names:
            # "DivOp" for "Div": the suffix is a common way to name an Op class
            key = wanted if wanted in scope else lowered.get(wanted.lower()) \
                or lowered.get(wanted.lower() + "op")
            if key is None:
                continue
            try:
                op = _as_op(scope[key], library, sample)
            except Exception:
                op = None
            if op is not None:
                return op, where, key
    return None


def _finite(forward, inputs, kwargs, goutput, index, np, step=1e-6):
    """d(sum(forward(...) * goutput)) / d inputs[index], by central differences."""
    base = inputs[index]
    grad = np.zeros(base.shape)
    flat = grad.reshape(-1)
    for k in range(min(base.size, MAX_ELEMENTS)):
        values = []
        for sign in (1.0, -1.0):
            trial = [x.copy() for x in inputs]
            trial[index].reshape(-1)[k] += sign * step
            values.append(float(np.sum(np.asarray(forward({}, *trial, **kwargs)) * goutput)))
        flat[k] = (values[0] - values[1]) / (2 * step)
    return grad


def trial(spec, namespace):
    import numpy as np

    inputs = [np.asarray(x, dtype=float) for x in spec["inputs"]]
    kwargs = dict(spec.get("kwargs") or {})
    goutput = np.asarray(spec["goutput"], dtype=float)
    out = {"id": spec["id"]}
    try:
        found = find_op(spec["names"], namespace, inputs[0])
    except Exception as exc:
        found = None
        out["error"] = f"{type(exc).__name__}: {exc}"[:500]
    if found is None:
        out["missing"] = True
        return out
    op, where, name = found
    out.update(op=getattr(op, "__name__", name), found=name, where=where)
    context = {}
    copies = [x.copy() for x in inputs]
    try:
        value = op.forward(context, *inputs, **kwargs)
    except Exception as exc:
        out["stage"], out["error"] = "forward", f"{type(exc).__name__}: {exc}"[:500]
        return out
    try:
        out["forward"] = np.asarray(value, dtype=float)
    except Exception:
        out["stage"] = "forward"
        out["error"] = (f"forward returned a {type(value).__name__}, not an array "
                        "(forward works on raw numpy arrays; do_forward wraps them)")[:500]
        return out
    out["inputs_changed"] = [not np.array_equal(a, b) for a, b in zip(inputs, copies, strict=True)]
    out["stored"] = sorted(str(k) for k in context)[:50]
    # a second node of the same op runs its forward before the first one's backward, as
    # in any graph that uses the op twice: backward must read what its own forward kept
    # in the context, not what the latest forward left in a global or class attribute
    try:  # noqa: SIM105 (a notebook can replace contextlib.suppress)
        op.forward({}, *[np.flip(x).copy() for x in copies], **kwargs)
    except Exception:
        pass
    recorder = _Recorder(context)
    incoming = goutput.copy()
    try:
        grads = op.backward(recorder, incoming)
    except Exception as exc:
        out["stage"], out["error"] = "backward", f"{type(exc).__name__}: {exc}"[:500]
        out["read"] = [str(k) for k in recorder.read][:50]
        return out
    out["read"] = [str(k) for k in recorder.read][:50]
    out["goutput_changed"] = not np.array_equal(incoming, goutput)
    grads = list(grads) if isinstance(grads, tuple | list) else [grads]
    try:
        out["grads"] = [np.asarray(g, dtype=float) for g in grads]
    except Exception:
        out["stage"] = "backward"
        out["error"] = ("backward returned something other than arrays: "
                        + ", ".join(type(g).__name__ for g in grads))[:500]
        return out
    try:
        out["finite"] = [_finite(op.forward, copies, kwargs, goutput, i, np)
                         for i in spec.get("wrt", range(len(inputs)))]
    except Exception as exc:
        out["finite_error"] = f"{type(exc).__name__}: {exc}"[:300]
    library = _library()
    if library is not None and hasattr(library, "TensorNode"):
        # the op as the library runs it: do_forward wraps the result in a TensorNode
        try:
            node = op.do_forward(*[library.TensorNode(x.copy()) for x in copies], **kwargs)
            out["do_forward"] = isinstance(node, library.TensorNode) and \
                getattr(getattr(node, "source", None), "op", None) is op
        except Exception as exc:
            out["do_forward_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return out


def run_ops(request, namespace):
    return {"ops": [trial(spec, namespace) for spec in request.get("ops", [])]}


def _ops_behind(node, limit=20000):
    """The names of the ops the computation graph behind ``node`` went through (what the
    forward pass really computed, whatever the class is called), and for each op of one
    input a sample of what it was given and what it gave on that pass (the host reads
    from these whether an op named ``ReLU`` computed a ReLU)."""
    import numpy as np

    names, samples, seen, stack = set(), {}, set(), [node]
    while stack and len(seen) < limit:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        source = getattr(current, "source", None)
        if source is None:
            continue
        op = getattr(source, "op", None)
        name = str(getattr(op, "__name__", type(op).__name__))[:100]
        names.add(name)
        inputs = list(getattr(source, "inputs", ()) or ())[:100]
        if name not in samples and len(samples) < 50 and len(inputs) == 1:
            try:
                x = np.asarray(getattr(inputs[0], "value", None), dtype=float).reshape(-1)
                y = np.asarray(getattr(current, "value", None), dtype=float).reshape(-1)
                if x.size == y.size and x.size:
                    samples[name] = {"x": x[:64].copy(), "y": y[:64].copy()}
            except Exception:
                pass
        if _zeros(current, np):
            # a value of zeros passes on only what made it zero: an op multiplied by 0.0
            # and added to a result made outside the graph did not compute it, while a
            # layer dead on this batch (its ReLU zero everywhere, the product with the
            # next weights zero) is still the network's
            inputs = [i for i in inputs if _zeros(i, np)]
        stack.extend(inputs)
    return sorted(names)[:50], samples


def _zeros(node, np):
    try:
        value = np.asarray(getattr(node, "value", None), dtype=float)
        return bool(value.size and not value.any())
    except Exception:
        return False


def _untrained_copy(module):
    """The network with its weights drawn afresh (seeded; biases zero): the control its
    accuracy must beat. None when it cannot be copied."""
    import copy

    import numpy as np

    try:
        fresh = copy.deepcopy(module)
    except Exception:
        return None
    rng = np.random.default_rng(0)
    for p in fresh.parameters():
        value = np.asarray(p.value, dtype=float)
        if value.ndim >= 2:
            bound = 1 / max(1, max(value.shape[:2])) ** 0.5
            p.value = rng.uniform(-bound, bound, size=value.shape)
        else:
            p.value = np.zeros_like(value)
    return fresh


def _inputs(directory, name):
    """A grader-held set as the course library's loaders give it: features as they are
    (the synthetic data), images flattened and scaled to [0, 1] (``load_mnist``)."""
    import numpy as np

    if "/" in name or name.startswith(".") or not name:
        raise ValueError("bad input file name")
    inputs = np.load(directory + "/" + name, allow_pickle=False)
    if inputs.dtype == np.uint8 and inputs.ndim > 2:
        return inputs.reshape(len(inputs), -1).astype(float) / 255.0
    return inputs.astype(float)


def _held(namespace, limit=8, depth=2):
    """The namespace's values, and the items of its small dicts, lists and tuples down
    to two levels: networks trained in a loop over activations are kept as
    ``runs["relu"] = (mlp, accuracies)``."""
    def inside(label, value, level):
        yield label, value
        if level >= depth:
            return
        try:
            if type(value) is dict and len(value) <= limit:
                items = [(f"{label}[{key!r}]", v) for key, v in value.items()]
            elif type(value) in (list, tuple) and len(value) <= limit:
                items = [(f"{label}[{i}]", v) for i, v in enumerate(value)]
            else:
                return
        except Exception:
            return
        for name, item in items:
            yield from inside(name, item, level + 1)

    for label, value in list(namespace.items()):
        if not label.startswith("_"):
            yield from inside(label, value, 0)


def evaluate(request, namespace, directory):
    """Predictions of every model of the library's ``Module`` class the notebook holds,
    on the grader's inputs: the question's set, or the first of the other sets it allows
    that the network runs on (``data``: which)."""
    import numpy as np

    library = _library()
    module_class = getattr(library, "Module", None) if library is not None else None
    if module_class is None:
        return {"candidates": []}
    sets = [_inputs(directory, request.get("images") or "")]
    sets += [_inputs(directory, name) for name in request.get("alternatives") or []]
    candidates, seen = [], set()
    for label, value in _held(namespace):
        if not isinstance(value, module_class) or id(value) in seen:
            continue
        seen.add(id(value))
        entry = {"label": "var:" + label, "error": None,
                 "architecture": {"class": type(value).__name__}}
        try:
            params = value.parameters()
            entry["architecture"]["parameters"] = int(sum(p.value.size for p in params))
            refused = None  # why it could not run on the question's own set
            for index, inputs in enumerate(sets):
                try:
                    out = value(library.TensorNode(inputs))
                except Exception as exc:
                    refused = refused or exc
                    continue
                entry["data"] = index
                break
            else:
                raise refused
            scores = np.asarray(getattr(out, "value", out))
            entry["predictions"] = scores.argmax(axis=1).astype(np.int64)
            entry["architecture"]["ops"], entry["architecture"]["op_samples"] = \
                _ops_behind(out)
            if request.get("untrained"):
                fresh = _untrained_copy(value)
                if fresh is not None:
                    out = fresh(library.TensorNode(sets[entry["data"]]))
                    entry["untrained_predictions"] = np.asarray(
                        getattr(out, "value", out)).argmax(axis=1).astype(np.int64)
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        candidates.append(entry)
        if len(candidates) >= 12:
            break
    return {"candidates": candidates, "transform_source": "none", "transform": []}
