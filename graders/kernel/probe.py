"""Code that runs *inside* the student's kernel, in the sandbox.

The trusted side never imports this module: it reads this file's source and executes it
in the kernel (see ``graders.runner.execute``), where it lives in a private module object rather
than the student's namespace. It must only use the standard library, numpy and IPython,
and it knows nothing about the reference or the expected values.

Everything it reports goes back as ``display_data`` with the ``MIME`` type below; values
use the wire format described in ``graders.scoring.values``.
"""


import base64
import contextlib
import io
import json
import math
import signal
import sys
import time
import types

from _autograder_boundary import HOME, MIME  # injected first (graders/boundary.py)

REGISTRY = "__autograder_registry__"
MAX_CANDIDATES = 6
MAX_SOURCE = 64 * 1024
MAX_OUTPUTS = 400  # cells whose last expression is kept for value answers
MAX_SCALARS = 2000


class _CallTimeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` does not eat it."""


def _registry():
    reg = sys.modules.get(REGISTRY)
    if reg is None or not hasattr(reg, "seen"):
        reg = types.ModuleType(REGISTRY)
        reg.seen = {}
        sys.modules[REGISTRY] = reg
    return reg


def _referenced(obj, namespace, depth=0):
    """Global names a function uses (with those of notebook helpers it calls), and their
    current values."""
    found = {}
    code = getattr(obj, "__code__", None)
    if code is None or depth > 4:
        return found
    stack = [code]
    names = set()
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for name in names:
        if name in namespace:
            value = namespace[name]
            found[name] = value
            if getattr(value, "__globals__", None) is namespace and value is not obj:
                for k, v in _referenced(value, namespace, depth + 1).items():
                    found.setdefault(k, v)
    return found


def snapshot(namespace, names, cell):
    """After a cell ran: remember each new object bound to a graded name, and the helpers
    each current binding uses, as first seen while it was current; and the datasets the
    notebook has held (a later section may reuse their names). Never raises: the host
    reads a failed snapshot as a kernel that stopped answering truthfully."""
    # try/except, not contextlib.suppress: a notebook can replace a library function.
    # BaseException: an object's __getattr__ may raise anything, SystemExit included.
    try:  # noqa: SIM105
        _snapshot(namespace, names, cell)
    except BaseException:
        pass
    try:  # noqa: SIM105
        _remember_datasets(namespace)
    except BaseException:
        pass
    try:  # noqa: SIM105
        _remember_models(namespace, cell)
    except BaseException:
        pass
    try:  # noqa: SIM105
        sys.modules["_autograder_probe_torch"].after_cell(cell)
    except BaseException:
        pass
    try:  # noqa: SIM105
        # a figure shown from now on belongs to the cell that runs next (None: the
        # probe's phase, whose figures belong to no cell)
        sys.modules[FIGURES].cell = cell if isinstance(cell, int) else None
    except BaseException:
        pass


# ----------------------------------------------------------------------- figures
FIGURES = "_autograder_figures"  # a module of its own: outlives fresh copies of this one
MAX_FIGURES, MAX_AXES, MAX_LINES, MAX_OVERFLOW = 48, 12, 24, 64


def watch_figures():
    """Summarise every matplotlib figure the notebook shows, as IPython formats it for
    display (``plt.show()``, the inline backend's flush, ``display(fig)``, a figure as a
    cell's value): per axes, each data line's and scatter's y-values as count, finite
    count, lowest and highest, and after which cell. The host reads it to tell a curve
    that changes from a flat line; it can only take credit away, so a notebook that hides
    or rewrites it gains nothing. A figure summarised only in part (past a cap) is marked
    so, and its cell is then not judged."""
    if FIGURES in sys.modules:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    state = types.ModuleType(FIGURES)
    import weakref

    # by the figure itself, not its id: a loop's closed figures free their ids for the
    # next; a figure shown again in the same cell (a live training plot, a cell's value
    # flushed again by the inline backend) replaces its earlier summary
    state.records, state.cell, state.shown = [], -1, weakref.WeakKeyDictionary()
    state.overflow = set()
    formatter = ip.display_formatter
    original = formatter.format

    def format(obj, *args, **kwargs):
        try:
            mpl = sys.modules.get("matplotlib.figure")
            if mpl is not None and isinstance(obj, mpl.Figure):
                _record(state, obj)
        except Exception:
            pass
        return original(obj, *args, **kwargs)

    formatter.format = format
    sys.modules[FIGURES] = state


def _record(state, figure):
    earlier = state.shown.get(figure)
    if earlier is not None and earlier[0] == state.cell:
        summary = _figure(figure)
        summary["after_cell"] = state.cell
        state.records[earlier[1]] = summary
    elif len(state.records) < MAX_FIGURES:
        summary = _figure(figure)
        summary["after_cell"] = state.cell
        state.shown[figure] = (state.cell, len(state.records))
        state.records.append(summary)
    elif len(state.overflow) < MAX_OVERFLOW and isinstance(state.cell, int):
        state.overflow.add(state.cell)  # past the cap: that cell is not judged


def _figure(figure):
    lines2d = sys.modules.get("matplotlib.lines")
    collections = sys.modules.get("matplotlib.collections")
    scatter = getattr(collections, "PathCollection", ())
    all_axes = list(figure.axes)
    truncated = len(all_axes) > MAX_AXES
    axes = []
    for ax in all_axes[:MAX_AXES]:
        found = []
        for line in list(ax.get_lines()):
            # lines drawn in data coordinates only: axvline's y runs 0..1 of the axes
            if lines2d is not None and isinstance(line, lines2d.Line2D) \
                    and line.get_transform() is ax.transData:
                found.append((line.get_ydata, "line"))
        for collection in list(ax.collections):
            if scatter and isinstance(collection, scatter):  # not fill_between's band
                found.append((collection.get_offsets, "points"))
        truncated = truncated or len(found) > MAX_LINES
        curves = [_curve(read(), kind) for read, kind in found[:MAX_LINES]]
        axes.append({"curves": curves, "images": len(ax.images)})
    summary = {"axes": axes}
    if truncated:
        summary["truncated"] = True
    return summary


def _curve(values, kind):
    import numpy as np

    try:
        y = np.asarray(values, dtype=float)
        if kind == "points":
            y = y[:, 1] if y.ndim == 2 and y.shape[1:] == (2,) else y[:0]
        y = y.ravel()
    except (TypeError, ValueError, IndexError):
        return {"kind": kind, "n": -1}  # not numbers (categories, dates): not judged
    finite = np.isfinite(y)
    count = int(finite.sum())
    curve = {"kind": kind, "n": int(y.size), "finite": count}
    if count:
        curve["lo"] = float(np.min(y, where=finite, initial=np.inf))
        curve["hi"] = float(np.max(y, where=finite, initial=-np.inf))
        # with count, lowest and highest, what tells a curve from a list of numbers
        # written in the code that happens to span the same
        curve["sum"] = float(np.sum(y, where=finite))
    return curve


def figures():
    """The summaries (and a truncated marker per cell whose figures went past the cap),
    or None when the watch could not be installed (no IPython): the host then reads the
    code alone, as it would without the kernel."""
    state = sys.modules.get(FIGURES)
    if state is None:
        return None
    return list(state.records) + [{"after_cell": cell, "axes": [], "truncated": True}
                                  for cell in sorted(state.overflow)]


MAX_DATASETS = 16


def _remember_datasets(namespace):
    """Each dataset (or loader) the notebook binds, kept past a later rebinding of its
    name: the MNIST section's ``transform`` still evaluates the MNIST model after a
    CIFAR section reused ``train_loader`` and ``transform``."""
    tools = sys.modules.get("_autograder_probe_torch")
    if tools is None or "torch" not in sys.modules:
        return
    reg = _registry()
    kept = getattr(reg, "datasets", None)
    if kept is None:
        kept = reg.datasets = []
    for name, value, _dataset in tools._datasets(namespace):
        if not any(v is value for _, v in kept):
            kept.append((name, value))
            del kept[:-MAX_DATASETS]


def remembered_datasets(namespace):
    """The datasets and loaders the notebook held earlier and no longer binds, under
    their names then (marked as earlier)."""
    current = {id(v) for v in namespace.values()}
    return {f"{name} (earlier)" + (f" {i}" if i else ""): value
            for i, (name, value) in enumerate(getattr(_registry(), "datasets", []))
            if id(value) not in current}


MAX_MODELS = 8
# what keeping models the notebook has let go of may add to its memory, at most
MAX_MODEL_BYTES = 512 * 1024 * 1024


def _remember_models(namespace, cell):
    """Each model the notebook binds, with the last cell after which it was bound: a
    later section that reuses ``net`` for another network leaves the earlier question's
    network gradable as it stood at the end of its own section."""
    tools = sys.modules.get("_autograder_probe_torch")
    if tools is None or "torch" not in sys.modules:
        return
    reg = _registry()
    kept = getattr(reg, "models", None)
    if kept is None:
        kept = reg.models = []
    bound = set()
    for label, module in tools.modules_in(namespace, classes=False):
        bound.add(id(module))
        entry = next((e for e in kept if e[1] is module), None)
        if entry is None:
            kept.append([label, module, cell])
        else:
            entry[0], entry[2] = label, cell
    del kept[:-MAX_MODELS]
    # keeping costs only what the notebook let go of, and the biggest goes first (the
    # VGG a bonus section replaced), not the oldest (an earlier question's small MLP)
    while True:
        gone = [e for e in kept if id(e[1]) not in bound]
        if len(gone) <= 1 or sum(_bytes(e[1]) for e in gone) <= MAX_MODEL_BYTES:
            break
        biggest = max(gone, key=lambda e: _bytes(e[1]))
        kept[:] = [e for e in kept if e is not biggest]


def _bytes(module):
    """What keeping the module alive holds: its parameters, their gradients and its
    buffers (running statistics)."""
    total = 0
    for p in module.parameters():
        total += p.numel() * p.element_size()
        if p.grad is not None:
            total += p.grad.numel() * p.grad.element_size()
    for b in module.buffers():
        total += b.numel() * b.element_size()
    return total


def remembered_models(current):
    """The models the notebook held earlier and no longer binds: (name then, module, the
    last cell after which it was bound)."""
    bound = {id(m) for _, m in current}
    return [(label, module, cell) for label, module, cell in getattr(_registry(), "models", [])
            if id(module) not in bound]


def _snapshot(namespace, names, cell):
    if cell is not None:
        _remember_output(cell)
    seen = _registry().seen
    for name in names:
        if name not in namespace:
            continue
        obj = namespace[name]
        found = seen.setdefault(name, [])
        entry = next((e for e in found if e[0] is obj), None)
        if entry is None:
            entry = (obj, cell, {})
            found.append(entry)
            del found[:-MAX_CANDIDATES]
        bindings = entry[2]
        for key, value in _referenced(obj, namespace).items():
            bindings.setdefault(key, value)


def _remember_output(cell):
    """Keep the value of the cell's last expression (what a TA reads as its answer), if
    it showed one: IPython's output history holds it under the count just used."""
    from IPython import get_ipython

    ip = get_ipython()
    hist = getattr(getattr(ip, "history_manager", None), "output_hist", None)
    count = getattr(ip, "execution_count", None)
    if not isinstance(hist, dict) or not isinstance(count, int) or count - 1 not in hist:
        return
    reg = _registry()
    outputs = getattr(reg, "outputs", None)
    if not isinstance(outputs, dict):
        outputs = reg.outputs = {}
    outputs[cell] = hist[count - 1]
    while len(outputs) > MAX_OUTPUTS:
        del outputs[next(iter(outputs))]


def _variants(name, namespace):
    """(object, cell, how, scope) for each candidate: as the namespace has it now, and,
    when a helper it uses was rebound later (a later part redefines ``sigmoid``), as
    defined. ``scope`` is where its helpers are looked up, for static checks too."""
    out = []
    for obj, cell, bindings in _registry().seen.get(name, []):
        out.append((obj, cell, "final", namespace))
        changed = {k: v for k, v in bindings.items()
                   if k not in namespace or namespace[k] is not v}
        if changed and isinstance(obj, types.FunctionType):
            scope = dict(namespace)
            scope.update(changed)
            out.append((_rebind(obj, namespace, changed), cell, "as defined", scope))
    return out


def _rebind(fn, namespace, changed):
    scope = dict(namespace)
    scope.update(changed)
    for key, value in list(scope.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            scope[key] = _clone(value, scope)
    return _clone(fn, scope)


def _clone(fn, scope):
    new = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    return new


def _emit(payload):
    from IPython.display import display

    display({MIME: payload}, raw=True)


# ------------------------------------------------------------------ values: encode
def _npy(arr):
    import numpy as np

    buf = io.BytesIO()
    # ascontiguousarray makes a 0-d array (a float32 loss, a torch scalar) 1-d: the host
    # would read a scalar as shape (1,)
    np.save(buf, arr if arr.ndim == 0 else np.ascontiguousarray(arr), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode(value, budget, depth=0):
    """Encode a returned value; budget[0] is the byte allowance left."""
    import numpy as np

    if depth > 6:
        return {"t": "other", "src": "too deeply nested"}
    tname = type(value).__module__ + "." + type(value).__qualname__
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        if abs(value) < 2**53:
            return {"t": "int", "v": value}
        return {"t": "float", "v": float(value), "src": "int"}
    if isinstance(value, float):
        return {"t": "float", "v": value if math.isfinite(value) else str(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value[:1000]}
    arr = None
    src = tname
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
        src = "numpy." + type(value).__name__
    elif hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        arr = value.detach().cpu().numpy()
        src = "torch.Tensor"
    elif hasattr(value, "__array__") and not isinstance(value, dict | list | tuple):
        arr = np.asarray(value)
    if arr is not None:
        if arr.dtype.kind not in "biufc":
            return {"t": "other", "src": f"{src} of dtype {arr.dtype}"}
        budget[0] -= arr.nbytes
        if budget[0] < 0:
            return {"t": "other", "src": f"{src} too large ({arr.nbytes} bytes)"}
        return {"t": "array", "npy": _npy(arr), "src": f"{src}[{arr.dtype}]"}
    if isinstance(value, list | tuple):
        kind = "tuple" if isinstance(value, tuple) else "list"
        if len(value) > 1000:
            return {"t": "other", "src": f"{kind} of {len(value)} items"}
        return {"t": kind, "items": [encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, dict):
        if len(value) > 1000:
            return {"t": "other", "src": f"dict of {len(value)} items"}
        return {
            "t": "dict",
            "src": tname,
            "items": [[str(k), encode(v, budget, depth + 1)] for k, v in value.items()],
        }
    return {"t": "other", "src": tname}


# ------------------------------------------------------------------ values: decode
def _load_array(npy):
    import base64
    import io

    import numpy as np

    return np.load(io.BytesIO(base64.b64decode(npy)), allow_pickle=False)


def decode(node):
    """Decode an input tree written by the trusted side; fresh objects every time."""
    t = node["t"]
    if t == "array":
        return _load_array(node["npy"])
    if t == "dict":
        return {k: decode(v) for k, v in node["items"]}
    if t == "tuple":
        return tuple(decode(v) for v in node["items"])
    if t == "list":
        return [decode(v) for v in node["items"]]
    if t == "none":
        return None
    if t == "float":
        return float(node["v"])
    return node["v"]


# ------------------------------------------------------------------------- probing
def _describe(name, index, obj, cell, namespace):
    import inspect

    info = {"symbol": name, "index": index, "cell": cell, "kind": type(obj).__name__}
    if not callable(obj):
        info["kind"] = "not_callable"
        return info
    with contextlib.suppress(TypeError, ValueError):
        info["signature"] = str(inspect.signature(obj))[:500]
    with contextlib.suppress(OSError, TypeError):
        info["source"] = inspect.getsource(obj)[:MAX_SOURCE]
    helpers = {}
    code = getattr(obj, "__code__", None)
    pending = list(code.co_names) if code is not None else []
    visited = {name}
    while pending and len(helpers) < 20:
        helper = pending.pop()
        if helper in visited:
            continue
        visited.add(helper)
        fn = namespace.get(helper)
        hcode = getattr(fn, "__code__", None)
        if hcode is None or getattr(fn, "__module__", None) not in ("__main__", None):
            continue
        try:
            helpers[helper] = inspect.getsource(fn)[:MAX_SOURCE]
        except (OSError, TypeError):
            continue
        pending.extend(hcode.co_names)
    info["helpers"] = helpers
    return info


def _on_alarm(signum, frame):
    raise _CallTimeout()


def run(plan_path, namespace, nonce, skip=()):
    """Describe every candidate, then make every planned call on each of them."""
    with open(plan_path) as fh:
        plan = json.load(fh)
    directory = plan_path.rsplit("/", 1)[0]
    snapshot(namespace, plan["symbols"], None)
    variants = {name: _variants(name, namespace) for name in plan["symbols"]}
    candidates = []
    for name, found in variants.items():
        for i, (obj, cell, how, scope) in enumerate(found):
            info = _describe(name, i, obj, cell, scope)
            info["variant"] = how
            candidates.append(info)
    _emit({"nonce": nonce, "kind": "candidates", "candidates": candidates})
    skipped = {tuple(s) for s in skip}
    # A candidate that timed out once is not called again: each further call would only
    # cost the same time limit.
    hung = {(s[0].split(":")[0], s[1]) for s in skipped}
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for call in plan["calls"]:
            found = variants.get(call["symbol"], [])
            if not found:
                _emit({"nonce": nonce, "kind": "result", "call_id": call["id"],
                       "symbol": call["symbol"], "candidate": -1, "status": "missing"})
                continue
            for index, (obj, _cell, _how, _scope) in enumerate(found):
                if (call["id"], index) in skipped:
                    continue
                if (call["id"].split(":")[0], index) in hung:
                    _emit({"nonce": nonce, "kind": "result", "call_id": call["id"],
                           "symbol": call["symbol"], "candidate": index, "status": "timeout",
                           "error": "not called: an earlier call to it timed out"})
                    continue
                _emit({"nonce": nonce, "kind": "start", "call_id": call["id"],
                       "symbol": call["symbol"], "candidate": index})
                record = _call(obj, index, call, directory, nonce, plan["max_output_bytes"])
                if record["status"] == "timeout":
                    hung.add((call["id"].split(":")[0], index))
                _emit(record)
        for request in plan.get("models", []):
            key = (request["id"], 0)
            if key in skipped:
                continue
            _emit({"nonce": nonce, "kind": "start", "call_id": request["id"],
                   "symbol": request["kind"], "candidate": 0})
            _emit(_model_request(request, namespace, directory, nonce,
                                 plan["max_output_bytes"]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _model_request(request, namespace, directory, nonce, max_bytes):
    """Answer one trained-model request (see graders.probe_torch)."""
    record = {"nonce": nonce, "kind": "result", "call_id": request["id"],
              "symbol": request["kind"], "candidate": 0}
    tools = sys.modules.get("_autograder_probe_torch")
    return _timed(record, request["timeout_s"], "finish",
                  lambda: _answer(request, namespace, directory, tools),
                  lambda value: encode(value, [max_bytes], depth=-4))


def _timed(record, timeout_s, verb, work, serialise):
    """Run ``work`` under the alarm and fill in the record: ok (with the serialised
    value), timeout, error, or unserializable."""
    started = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            value = work()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _CallTimeout:
        record["status"] = "timeout"
        record["error"] = f"did not {verb} within {timeout_s:g} s"
    except BaseException as exc:
        record["status"] = "error"
        record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        try:
            record["value"] = serialise(value)
            record["status"] = "ok"
        except BaseException as exc:
            record["status"] = "unserializable"
            record["error"] = f"{type(exc).__name__}: {exc}"[:500]
    record["duration_s"] = time.perf_counter() - started
    return record


def _answer(request, namespace, directory, tools):
    import numpy as np

    kind = request["kind"]
    if kind == "values":
        return _values(request, namespace)
    if kind == "ops":
        return sys.modules["_autograder_probe_ops"].run_ops(request, namespace)
    if kind == "evaluate" and request.get("framework") == "vugrad":
        return sys.modules["_autograder_probe_ops"].evaluate(request, namespace, directory)
    if kind == "figures":
        # how many optimizer steps moved weights on gradients while the notebook ran
        # (None: no torch, or no step hooks): curves of training need a training
        steps = tools.optimizer_steps() if tools is not None and "torch" in sys.modules \
            else None
        trained = sum(r["with_grad"] for r in steps) if isinstance(steps, list) else None
        return {"figures": figures(), "trained_steps": trained}
    if kind == "optimizers":
        return {"optimizers": tools.optimizer_steps() if tools is not None else []}
    if "torch" not in sys.modules:
        # No torch in this notebook: no model, loader or layer can exist, and importing
        # torch here would cost seconds for nothing.
        return {"loaders": [], "functions": [], "candidates": [], "transform_source": "none",
                "transform": []}
    if kind == "loaders":
        # the loaders now, then those a later section's names replaced
        return {"loaders": tools.describe_loaders({**namespace,
                                                   **remembered_datasets(namespace)})}
    if kind == "param_count":
        import re

        if "torch" not in sys.modules:
            return {"functions": []}  # no torch in this notebook: nothing to count with
        pattern = re.compile(request["pattern"])
        models = [tools.build_model(layers) for layers in request["models"]]
        found = []
        for name, fn in list(namespace.items()):
            if name.startswith("_") or not callable(fn) or isinstance(fn, type):
                continue
            if getattr(fn, "__module__", None) != "__main__" or not pattern.search(name):
                continue
            results = []
            for model in models:
                try:
                    results.append(fn(model))
                except Exception as exc:
                    results.append(f"raised {type(exc).__name__}: {exc}"[:300])
            found.append({"name": name, "results": results})
        return {"functions": found}
    # kind == "evaluate"
    images = None
    if request.get("images"):
        images = np.load(directory + "/" + request["images"], allow_pickle=False)
    # the notebook's datasets now, then those it held before (names reused later)
    transform = tools.student_transform({**namespace, **remembered_datasets(namespace)},
                                        images=images)
    source = "student"
    if transform is None:
        transform, source = tools.build_transform(request["fallback_transform"]), "fallback"
    matched, named = False, transform
    if images is not None:
        try:
            transform, matched = tools.matched_transform(
                {**namespace, **remembered_datasets(namespace)}, transform, images)
        except Exception:
            matched = False
    candidates = []
    current = tools.modules_in(namespace)
    pool = [(n if n.startswith("class:") else "var:" + n, m, None) for n, m in current]
    if request.get("saved"):
        pool += tools.saved_models(HOME, namespace)
    earlier = {}
    for label, module, cell in remembered_models(current):
        pool.append(("var:" + label, module, None))
        earlier[id(module)] = cell
    loader = tools.test_loader(namespace) if request.get("public") else None
    limit = 12 if images is not None or loader is not None else 48
    untrained = {}  # one untrained control per architecture, however many copies
    for label, model, error in pool[:limit]:
        entry = {"label": label, "error": error}
        if model is not None and id(model) in earlier:
            # a later cell rebound its name: graded as it stood after that cell
            entry["earlier_cell"] = earlier[id(model)]
        if model is not None:
            try:
                entry["architecture"] = tools.describe(model)
                if request.get("pretrained"):
                    entry["pretrained"] = tools.pretrained_match(model)
                if request.get("forward"):
                    entry["forward"] = tools.forward_probe(model, request["forward"])
                if images is not None and not request.get("public"):
                    entry["predictions"] = tools.predict(model, images, transform)
                    if request.get("untrained"):
                        entry["stored"] = tools.stored_in_forward(model, images, transform)
                    if matched:
                        # and as the transform makes them: a loop that divides raw
                        # pixels by 255 itself serves its network unscaled test inputs
                        entry["unmatched_predictions"] = tools.predict(model, images, named)
                elif images is not None:
                    # held against the notebook's own test set: a model the grader's
                    # images do not fit is still measured there
                    try:
                        entry["predictions"] = tools.predict(model, images, transform)
                    except Exception as exc:
                        entry["predict_error"] = f"{type(exc).__name__}: {exc}"[:300]
                if images is not None and request.get("untrained"):
                    arch = entry["architecture"]
                    key = (arch["class"], arch["parameters"], len(arch["leaves"]))
                    if key not in untrained:
                        untrained[key] = tools.predict(tools.untrained_copy(model), images,
                                                       transform)
                    entry["untrained_predictions"] = untrained[key]
                if loader is not None:
                    preds, labels = tools.public_eval(model, loader)
                    entry["public_predictions"], entry["public_labels"] = preds, labels
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        candidates.append(entry)
    return {"candidates": candidates, "transform_source": source,
            "transform": tools._transform_names(named), "matched": matched}


def _number(value):
    """A real number from a Python, numpy or one-element torch scalar; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    module = type(value).__module__
    if module == "numpy" or module.startswith(("numpy.", "torch")):
        try:
            if getattr(value, "size", None) == 1 or getattr(value, "numel", lambda: 0)() == 1:
                number = float(value.item() if hasattr(value, "item") else value)
                return number if math.isfinite(number) else str(number)
        except Exception:
            return None
    return None


def _small(value, depth=0):
    """Values small enough to be an answer: numbers, short strings and sequences, small
    arrays. A large array a cell showed is nobody's value answer."""
    if value is None or isinstance(value, bool | int | float | str):
        return not isinstance(value, str) or len(value) <= 1000
    if isinstance(value, list | tuple):
        return depth < 3 and len(value) <= 100 and all(_small(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return depth < 2 and len(value) <= 100 and all(_small(v, depth + 1)
                                                       for v in value.values())
    size = getattr(value, "size", None)
    if callable(size):  # torch.Tensor.size() is a method
        size = value.numel() if hasattr(value, "numel") else None
    return isinstance(size, int) and size <= 10_000


def _values(request, namespace):
    """The variables value answers name, every numeric scalar in the namespace (an
    answer the student called something else), and the cells' last expressions."""
    variables = {}
    for name in request.get("names", []):
        if name in namespace and _small(namespace[name]):
            variables[name] = namespace[name]
    scalars = {}
    for name, value in list(namespace.items()):
        if len(scalars) >= MAX_SCALARS:
            break
        if name.startswith("_") or len(name) > 60:
            continue
        number = _number(value)
        if number is not None:
            scalars[name] = number
    outputs = getattr(_registry(), "outputs", None)
    shown = [[cell, value] for cell, value in (outputs or {}).items()
             if isinstance(cell, int) and _small(value)]
    return {"variables": variables, "scalars": scalars, "outputs": shown}


def _call(obj, index, call, directory, nonce, max_bytes):
    record = {"nonce": nonce, "kind": "result", "call_id": call["id"],
              "symbol": call["symbol"], "candidate": index}
    if not callable(obj):
        record["status"] = "not_callable"
        record["error"] = f"{call['symbol']} is a {type(obj).__name__}, not a function"
        return record
    args = [decode(a) for a in call["args"]]
    return _timed(record, call["timeout_s"], "return", lambda: obj(*args),
                  lambda value: encode(value, [max_bytes]))
