"""Kernel-side probes for trained-model questions (runs *inside* the sandbox).

Like ``graders.probe`` this file's source is executed in the student's kernel, never
imported by the trusted side. It finds models (variables, instances of a class, saved
files), describes their architecture, runs them on the grader's images (labels never
come here) through the student's own test-time transform, and describes data loaders.
It also installs the import hooks that make the mounted datasets count as present and
verified for torchvision, and seed torch when it is imported.
"""

import importlib.abc
import importlib.machinery
import os
import sys

SAVED_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
SAFE_LAYERS = ("Linear", "Conv2d", "Conv1d", "ReLU", "Sigmoid", "Tanh", "Flatten",
               "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Dropout", "Softmax",
               "LogSoftmax", "Identity", "LeakyReLU", "GELU")


# ----------------------------------------------------------------------- import hooks
class _AfterImport(importlib.abc.MetaPathFinder):
    """Run a patch right after a module executes, before anyone binds its names."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path, target=None):
        patch = self.patches.get(name)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


def install_hooks(seed, datasets_root):
    root = os.path.realpath(datasets_root)

    def under_root(path):
        try:
            return os.path.realpath(path).startswith(root + os.sep)
        except (TypeError, ValueError):
            return False

    def patch_utils(utils):
        # The mounted files are the deployment's copies (fixtures, re-packed archives):
        # present means verified, and nothing under them is ever downloaded.
        check_integrity, check_md5 = utils.check_integrity, utils.check_md5

        def integrity(fpath, md5=None):
            if under_root(fpath):
                return os.path.isfile(fpath)
            return check_integrity(fpath, md5)

        def md5_ok(fpath, md5, **kwargs):
            return True if under_root(fpath) else check_md5(fpath, md5, **kwargs)

        utils.check_integrity, utils.check_md5 = integrity, md5_ok

    def patch_torch(torch):
        torch.manual_seed(seed)
        # The same hand-in must train the same way on every worker: the job's thread
        # count (torch does not always take it from the environment once imported) and
        # deterministic kernels where torch has them (warn only: a student's op without
        # one still runs).
        try:
            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        except Exception:
            pass
        # a failure here must not break the notebook's `import torch` (try/except, not
        # contextlib.suppress: the notebook may replace a library function)
        try:  # noqa: SIM105
            capture_genuine(torch)
        except Exception:
            pass
        try:  # noqa: SIM105
            watch_optimizers()
        except Exception:
            pass

    def patch_folder(folder):
        # Notebooks point an ImageFolder at where the data sat on their machine
        # ("data/train", "/content/drive/MyDrive/hw5/data/train"): a root that does not
        # exist is looked up under the mounted datasets by its last path components.
        original = folder.DatasetFolder.__init__

        def init(self, root, *args, **kwargs):
            return original(self, resolve_root(root), *args, **kwargs)

        folder.DatasetFolder.__init__ = init

    def patch_vision(vision):
        # and a torchvision dataset's root (KMNIST(root="/content/drive/MyDrive/EE411/
        # kmnist", download=True)) that does not hold its files, where the mounted
        # datasets do: read from there (there is nothing to download from)
        original = vision.VisionDataset.__init__

        def init(self, root=None, *args, **kwargs):
            return original(self, _dataset_root(type(self), root, root_path), *args,
                            **kwargs)

        vision.VisionDataset.__init__ = init

    root_path = root
    hooks = {"torchvision.datasets.utils": patch_utils, "torch": patch_torch,
             "torchvision.datasets.folder": patch_folder,
             "torchvision.datasets.vision": patch_vision}
    for name, patch in hooks.items():
        if name in sys.modules:  # a warm kernel imported it before the submission came
            patch(sys.modules[name])
    sys.meta_path.insert(0, _AfterImport(hooks))


# ------------------------------------------------------------- torch as it was imported
GENUINE = "_autograder_torch"


def capture_genuine(torch):
    """torch's own ways of reading a model, taken when torch is imported (before any
    notebook code binds or patches them): a model that overrides ``named_modules``,
    ``parameters`` or ``state_dict`` to describe another network, or a layer class whose
    ``forward`` was replaced (``nn.ReLU.forward = sigmoid``), is read as it is."""
    if GENUINE in sys.modules:
        return
    import types

    state = types.ModuleType(GENUINE)
    module = torch.nn.Module
    state.forwards = {}
    for name in dir(torch.nn):
        cls = getattr(torch.nn, name, None)
        if isinstance(cls, type) and issubclass(cls, module):
            # and the private bases that hold the forward (_BatchNorm, _ConstantPadNd)
            for base in cls.__mro__:
                if "forward" in base.__dict__ and base.__module__.startswith("torch."):
                    state.forwards[base] = base.__dict__["forward"]
    try:
        from torch.overrides import TorchFunctionMode
    except Exception:
        TorchFunctionMode = None
    state.TorchFunctionMode = TorchFunctionMode
    # how a module is called, hooks and all, as torch wrote it: a class's ``__call__`` of
    # its own (or a compiled call set on the instance) answers for the model otherwise
    state.call = module.__dict__.get("__call__")
    state.call_impl = module.__dict__.get("_call_impl")
    sys.modules[GENUINE] = state


def _own_dict(value):
    """An object's instance ``__dict__``, read past any attribute lookup its class
    defines (raises where it has none)."""
    return object.__getattribute__(value, "__dict__")


def _scripted(model):
    """A scripted model (torch.jit): it keeps no registries; torch's own methods read
    its compiled graph's modules."""
    script = getattr(sys.modules.get("torch.jit"), "ScriptModule", None)
    return script is not None and isinstance(model, script)


def _registered(module, table):
    """A module's own registry (``_modules``, ``_parameters``, ``_buffers``), read past
    any attribute lookup the model's class defines."""
    try:
        found = _own_dict(module).get(table)
    except Exception:
        return {}
    return found if isinstance(found, dict) else {}


def _children(module):
    return iter([m for m in _registered(module, "_modules").values() if m is not None])


def _named_modules(model, limit=5000):
    """Every registered module, ``nn.Module.named_modules``'s names and order, from the
    registries themselves: torch's own method calls each child's ``named_modules``,
    which a notebook's class can override. A scripted model (torch.jit) keeps no such
    registry: torch's own traversal reads it."""
    if _scripted(model):
        return list(model.named_modules())[:limit]
    seen, out, stack = set(), [], [("", model)]
    while stack and len(out) < limit:
        name, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        out.append((name, module))
        children = [(f"{name}.{k}" if name else k, m)
                    for k, m in _registered(module, "_modules").items() if m is not None]
        stack += reversed(children)
    return out


def _parameters(model):
    if _scripted(model):
        return list(model.parameters())
    seen, out = set(), []
    for _, module in _named_modules(model):
        for p in _registered(module, "_parameters").values():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def _state_dict(model):
    """The registered parameters and buffers by their dotted names."""
    out = {}
    for name, module in _named_modules(model):
        for table in ("_parameters", "_buffers"):
            for key, value in _registered(module, table).items():
                if value is not None:
                    out[f"{name}.{key}" if name else key] = value.detach()
    return out


def _genuine():
    """The captured readers, or torch's current ones where none were captured."""
    state = sys.modules.get(GENUINE)
    if state is not None:
        return state
    capture_genuine(_torch())
    return sys.modules[GENUINE]


def _own_forward(module, genuine):
    """Whether ``module`` computes with a forward of its own rather than its torch
    class's: one set on the instance, a class's override, or torch's replaced."""
    if _scripted(module):
        return False  # compiled from torch's own layers, or not: its graph is what runs
    try:
        if "forward" in _own_dict(module):
            return True
    except Exception:
        return True
    for cls in type(module).__mro__:
        if "forward" in cls.__dict__:
            return genuine.forwards.get(cls) is not cls.__dict__["forward"]
    return True


# ------------------------------------------------------------------- optimizer steps
STEPS = "_autograder_steps"  # a module of its own: outlives fresh copies of this one
MAX_OPTIMIZERS = 256  # distinct (class, settings, shapes): a grid search fits
_SETTINGS = ("lr", "momentum", "nesterov", "weight_decay", "dampening", "amsgrad", "alpha")


def watch_optimizers():
    """Count every optimizer's steps (torch's global step hooks): which optimizer, built
    with which settings, for which parameters, stepped how often with gradients present,
    after which cell. The host reads it to tell an optimizer that trained a model from
    one that was only built, or handed to a function that never steps it.

    The notebook shares this interpreter, so what is counted is what a step does, read
    with torch's own classes as they were when torch was imported: the optimizer's class
    is the torch class whose own ``step`` ran (a class renamed ``SGD`` that steps as Adam
    is Adam; one with a ``step`` of its own is nobody's), its settings are those its
    parameter groups step with (not ``defaults``, which nothing reads), and a step counts
    as one with gradients only when torch's step ran between the pre- and post-hook and
    moved the parameters (zeroed gradients move nothing; a hook called by hand has no
    pre-hook). The records live in this closure, not in a module a notebook can append
    to."""
    if STEPS in sys.modules:
        return
    import types
    import weakref

    try:
        import torch
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )
    except Exception:
        return
    genuine = {}  # each torch optimizer class, and its own step as torch wrote it (None:
    # it steps with a base class's, as AdamW steps with Adam's)
    for name in dir(torch.optim):
        cls = getattr(torch.optim, name, None)
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) \
                and cls is not torch.optim.Optimizer:
            step = cls.__dict__.get("step")
            genuine[cls] = step.__wrapped__ if getattr(step, "hooked", False) else step
    updates = _update_functions(torch)
    state = types.ModuleType(STEPS)
    # the last cell that completed before torch was imported (the figures watch keeps
    # it from the first cell on): steps in the importing cell belong to the next one
    last = getattr(sys.modules.get("_autograder_figures"), "cell", None)
    records, cell = [], [last if isinstance(last, int) and not isinstance(last, bool) else -1]
    mine = weakref.WeakKeyDictionary()
    before = weakref.WeakKeyDictionary()
    # the parameters an optimizer moved: a model holding them was trained, one built
    # beside it (a decoy of the handout's architecture) was not
    # (by id: a tensor's == compares values)
    stepped, registered = weakref.WeakValueDictionary(), weakref.WeakKeyDictionary()
    stepped_by = {}  # a stepped parameter's id: the last record to start moving it
    # a stepped parameter's id: its first values after the last step that moved it (a
    # run that starts from exactly these continues the other's; one reset by loading
    # the initial weights, or initialised afresh, starts elsewhere)
    ends = {}
    dropped = {}  # the record of an optimizer past the cap: built once, never kept
    # the gradients, state and settings a sampled step starts from; the start of the
    # last step counted
    rules, starts = weakref.WeakKeyDictionary(), weakref.WeakKeyDictionary()
    off = weakref.WeakKeyDictionary()  # the last sampled step moved by another rule
    pending = weakref.WeakKeyDictionary()  # a closure's step: values and state before it
    clone, equal = torch.Tensor.clone, torch.equal

    def first_params(optimizer):
        found = []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    found.append(p)
                if len(found) == 2:
                    return found
        return found

    def sampled(optimizer):
        record = mine.get(optimizer)
        # every step is checked until the count is plainly training, then one in 16
        return record is not dropped and (record is None or record["with_grad"] < 64
                                          or not record["steps"] % 16)

    def look(optimizer, params=None, state=None):
        """What the step starts from: the sampled values and (with ``state``, read
        before a closure computed the gradients) the rule's inputs."""
        record = mine.get(optimizer)
        with torch.no_grad():
            # and whether any gradient is nonzero (the smallest tensors, biases: a
            # real gradient reaches them): zeroed gradients under weight decay still
            # move the weights, which is no training either
            grads = sorted((p for g in optimizer.param_groups for p in g["params"]
                            if p.grad is not None), key=lambda p: p.numel())[:3]
            if not any(bool(p.grad.any()) for p in grads):
                return
            if params is None:
                params = first_params(optimizer)
                before[optimizer] = [(p, clone(p.detach().reshape(-1)[:256]))
                                     for p in params]
                state = _rule_inputs(optimizer, params, torch)
            else:
                before[optimizer] = params
            rules[optimizer] = _with_grads(state, [p for p, _ in before[optimizer]],
                                           getattr(optimizer, "grad_scale", None), torch)
            # the last counted step's start again: that step was undone (the weights
            # loaded back after each step) and trained nothing
            start = starts.get(optimizer)
            if record is not None and start is not None and \
                    len(start) == len(before[optimizer]) and all(
                    a.shape == b.shape and equal(a, b) for a, (_, b) in
                    zip(start, before[optimizer], strict=True)):
                record["with_grad"] -= 1
                record["undone"] = record.get("undone", 0) + 1
                starts.pop(optimizer, None)

    def own_hook(hooks, fn, last):
        # an optimizer's own hooks run after torch's global pre-hooks and before its
        # global post-hooks: ours among them, last of the pre-hooks (after a clipping
        # hook of the notebook's), first of the post-hooks (before one that could
        # rewrite the gradients the step used)
        if isinstance(hooks, dict):
            hooks[_OWN_HOOK] = fn
            hooks.move_to_end(_OWN_HOOK, last=last)

    def before_step(optimizer, args, kwargs):
        try:
            before.pop(optimizer, None)
            rules.pop(optimizer, None)
            pending.pop(optimizer, None)  # a closure's step that raised left its own
            if not sampled(optimizer):
                return
            if any(callable(a) for a in args) or callable((kwargs or {}).get("closure")):
                # the closure computes the gradients inside the step: they are read
                # after it, the values and the optimizer's state before it
                # (of the first 32 parameters: which two get gradients is known after)
                with torch.no_grad():
                    params = [p for g in optimizer.param_groups for p in g["params"]
                              if p.requires_grad][:32]
                    pending[optimizer] = ([(p, clone(p.detach().reshape(-1)[:256]))
                                           for p in params],
                                          _rule_inputs(optimizer, params, torch))
                own_hook(getattr(optimizer, "_optimizer_step_post_hooks", None),
                         after_closure, last=False)
            elif [k for k in getattr(optimizer, "_optimizer_step_pre_hooks", None) or ()
                  if k != _OWN_HOOK]:
                own_hook(optimizer._optimizer_step_pre_hooks, last_look, last=True)
            else:
                look(optimizer)
        except Exception:
            pass

    def last_look(optimizer, args, kwargs):
        try:
            if sampled(optimizer) and optimizer not in before:
                look(optimizer)
        except Exception:
            pass

    def after_closure(optimizer, args, kwargs):
        try:
            params, state = pending.pop(optimizer, (None, None))
            if params is not None:
                # the first two the closure gave gradients, as a step without one samples
                kept = [i for i, (p, _) in enumerate(params) if p.grad is not None][:2]
                if kept:
                    look(optimizer, [params[i] for i in kept], [state[i] for i in kept])
        except Exception:
            pass

    def after_step(optimizer, args, kwargs):
        try:
            record = mine.get(optimizer)
            if record is dropped:
                return
            if record is None:
                record = _optimizer_record(optimizer, genuine, updates)
                same = next((r for r in records if r["key"] == record["key"]), None)
                if same is not None:
                    record = same  # a fresh optimizer per epoch: one record, not hundreds
                elif len(records) < MAX_OPTIMIZERS:
                    records.append(record)
                else:
                    mine[optimizer] = dropped
                    return
                mine[optimizer] = record
            record["steps"] += 1
            snapshot = before.pop(optimizer, None)
            if snapshot is not None:
                with torch.no_grad():
                    now = [p.detach().reshape(-1)[:256] for p, _ in snapshot]
                    moved = len(now) == len(snapshot) and any(
                        not equal(a, b) for (_, a), b in zip(snapshot, now, strict=True))
                # and moved as the optimizer's own rule moves them, from the gradients
                # and its state before the step (Adam's steps passed off as SGD's by
                # calling the step hooks around them, a settings group of no parameter
                # in use, an update function replaced)
                rule = _moved_by_rule(record["class"], rules.pop(optimizer, None), [
                    (p, a, b) for (p, a), b in zip(snapshot, now, strict=False)],
                    optimizer, torch) if len(now) == len(snapshot) else None
                off[optimizer] = moved and rule is False
                if off[optimizer]:
                    record["off_rule"] = record.get("off_rule", 0) + 1
                    moved = False
                if moved:
                    record["with_grad"] += 1
                    starts[optimizer] = [clone(a) for _, a in snapshot]
                    if not record["class"].endswith("(own step)") and \
                            not _updates_intact(updates):
                        record["class"] += " (own step)"
                    if optimizer not in registered:
                        registered[optimizer] = True
                        params = [p for g in optimizer.param_groups for p in g["params"]]
                        # a network an optimizer of other settings had trained, taken on
                        # from exactly where that one ended (an experiment comparing
                        # optimizers starts each from fresh weights); "fresh": a run of
                        # this record that started on weights no other setting's run
                        # left (new ones, or reset by loading the initial ones)
                        with torch.no_grad():
                            others = [(p, start) for p, start in snapshot
                                      if stepped.get(id(p)) is p
                                      and stepped_by.get(id(p)) != record["key"]]
                            own = any(stepped.get(id(p)) is p and
                                      stepped_by.get(id(p)) == record["key"]
                                      for p, _ in snapshot)
                            carried = any(ends.get(id(p)) is not None
                                          and ends[id(p)].shape == start.shape
                                          and equal(ends[id(p)], start)
                                          for p, start in others)
                        if carried:
                            # a record of its own: a fresh run of the same settings (a
                            # later part's) must not make this one fresh
                            record = _carried_record(record, records, mine, optimizer)
                        record["fresh"] = record["fresh"] or not (carried or own)
                        for p in params:
                            stepped[id(p)], stepped_by[id(p)] = p, record["key"]
            elif record["with_grad"] >= 64 and not off.get(optimizer, False):
                record["with_grad"] += 1  # a step not sampled: as the sampled ones were
            if optimizer in registered:
                with torch.no_grad():
                    for p in first_params(optimizer):
                        ends[id(p)] = clone(p.detach().reshape(-1)[:256])
            if cell[0] not in record["after_cells"] and len(record["after_cells"]) < 16:
                record["after_cells"].append(cell[0])
        except Exception:
            pass

    def read():
        return [{k: v for k, v in r.items() if k != "key"} for r in records]

    def set_cell(index):
        cell[0] = index

    def trained(parameters):
        return any(stepped.get(id(p)) is p for p in parameters)

    state.read, state.set_cell, state.trained = read, set_cell, trained
    state.handles = (register_optimizer_step_pre_hook(before_step),
                     register_optimizer_step_post_hook(after_step))
    sys.modules[STEPS] = state


def _carried_record(record, records, mine, optimizer):
    """The record of runs of ``record``'s settings taken on from another setting's
    weights, this step moved to it from ``record`` (dropped where nothing else stepped
    with it)."""
    key = record["key"] + " continued"
    carried = next((r for r in records if r["key"] == key), None)
    if carried is None:
        carried = {**record, "steps": 0, "with_grad": 0, "after_cells": [],
                   "continued": True, "fresh": False, "key": key}
        records.append(carried)
    record["steps"] -= 1
    record["with_grad"] -= 1
    if record["steps"] <= 0:
        records[:] = [r for r in records if r is not record]
    carried["steps"] += 1
    carried["with_grad"] += 1
    mine[optimizer] = carried
    return carried


def _genuine_class(optimizer, genuine):
    """The torch optimizer this one is (the first of torch's classes it derives from:
    a class renamed ``SGD`` deriving from Adam is Adam), provided the ``step`` it steps
    with is torch's own; None when a class of the notebook's brings a ``step`` of its
    own."""
    originals = {step for step in genuine.values() if step is not None}
    for cls in type(optimizer).__mro__:
        if "step" in cls.__dict__:
            step = cls.__dict__["step"]
            # torch wraps a class's step in its hooks on first use (on a subclass too)
            unwrapped = step.__wrapped__ if getattr(step, "hooked", False) else step
            if unwrapped not in originals:
                return None
            break
    return next((cls.__name__ for cls in type(optimizer).__mro__ if cls in genuine), None)


def _update_functions(torch):
    """The functions torch's optimizers update parameters with, as torch was imported:
    ``torch.optim.sgd.sgd`` (which SGD's own ``step`` calls) replaced by an Adam update
    leaves SGD's class and step torch's own while the weights move by Adam's rule."""
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("torch.optim.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) and getattr(value, "__module__", None) == name \
                    and not isinstance(value, type):
                found.append((module, attr, value))
    for attr in dir(torch):
        if attr.startswith("_foreach_"):
            found.append((torch, attr, getattr(torch, attr)))
    for attr in ("add_", "addcdiv_", "addcmul_", "mul_", "lerp_", "sqrt", "div_", "copy_",
                 "sub_", "maximum", "neg", "clone", "square", "pow"):
        found.append((torch.Tensor, attr, torch.Tensor.__dict__.get(attr)))
    return found


def _updates_intact(updates):
    try:
        return all((owner.__dict__ if isinstance(owner, type) else vars(owner)).get(attr)
                   is value for owner, attr, value in updates)
    except Exception:
        return False


_RULE_STATE = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
_RULE_SETTINGS = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps",
                  "amsgrad", "maximize", "decoupled_weight_decay")


_OWN_HOOK = -1  # the key of our hook among an optimizer's own (torch's keys count from 0)


def _rule_inputs(optimizer, params, torch):
    """Per sampled parameter, what its update is computed from besides its gradient:
    the optimizer's state for it and its group's settings, as the step starts (256
    values, float64 on the CPU)."""
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    found = []
    for p in params:
        group = groups.get(id(p), {})
        state = optimizer.state.get(p, {}) if hasattr(optimizer.state, "get") else {}
        tensors = {k: state[k].detach().reshape(-1)[:256].double().cpu().clone()
                   for k in _RULE_STATE if isinstance(state.get(k), torch.Tensor)}
        step = state.get("step")
        found.append({"state": tensors, "step": float(step) if step is not None else 0.0,
                      "group": {k: group.get(k) for k in _RULE_SETTINGS}, "dtype": p.dtype})
    return found


def _with_grads(inputs, params, scale, torch):
    """The rule's inputs with each parameter's gradient as the step takes it: divided by
    a ``GradScaler``'s scale where the step unscales it itself (a fused optimizer); None
    where a parameter has none."""
    found = []
    for given, p in zip(inputs, params, strict=True):
        if p.grad is None:
            return None
        grad = p.grad.detach().reshape(-1)[:256].double().cpu().clone()
        if isinstance(scale, torch.Tensor):
            grad = grad / scale.double().cpu().reshape(-1)[0]
        found.append({**given, "grad": grad})
    return found


def _moved_by_rule(name, inputs, moved, optimizer, torch):
    """Whether the sampled values moved as torch's ``name`` (SGD, Adam, AdamW) moves
    them from the gradients and state the step started from: True, False, or None where
    it cannot be told (another optimizer, a half-precision parameter, state unreadable).
    Nine in ten of the values that moved must agree to float32's rounding."""
    if name not in ("SGD", "Adam", "AdamW") or not inputs or len(inputs) != len(moved):
        return None
    try:
        verdicts = []
        for given, (_, start, end) in zip(inputs, moved, strict=True):
            if given["dtype"] not in (torch.float32, torch.float64):
                return None
            p0, p1 = start.double().cpu(), end.double().cpu()
            expected = _rule_step(name, given, p0, torch)
            if expected is None or expected.shape != p1.shape:
                return None
            scale = (expected - p0).abs() + (p1 - p0).abs()
            close = (p1 - expected).abs() <= 1e-3 * scale + 4e-7 * p0.abs() + 1e-12
            finite = torch.isfinite(expected) & torch.isfinite(p1)
            changed = (scale > 0) & finite
            if int(changed.sum()) == 0:
                continue
            verdicts.append(float((close & changed).sum()) / float(changed.sum()) >= 0.9)
        return all(verdicts) if verdicts else None
    except Exception:
        return None


def _rule_step(name, given, p, torch):
    group, state, g = given["group"], given["state"], given["grad"]
    lr = float(group.get("lr"))
    wd = float(group.get("weight_decay") or 0.0)
    if group.get("maximize"):
        g = -g
    if name == "SGD":
        momentum, dampening = float(group.get("momentum") or 0.0), \
            float(group.get("dampening") or 0.0)
        d = g + wd * p if wd else g
        if momentum:
            previous = state.get("momentum_buffer")
            buf = d if previous is None else momentum * previous + (1 - dampening) * d
            d = d + momentum * buf if group.get("nesterov") else buf
        return p - lr * d
    betas = group.get("betas") or (0.9, 0.999)
    beta1, beta2 = float(betas[0]), float(betas[1])
    eps, t = float(group.get("eps") or 1e-8), given["step"] + 1
    decoupled = group.get("decoupled_weight_decay")
    if decoupled is None:
        decoupled = name == "AdamW"
    if wd and decoupled:
        p = p * (1 - lr * wd)
    elif wd:
        g = g + wd * p
    zero = torch.zeros_like(g)
    m = beta1 * state.get("exp_avg", zero) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", zero) + (1 - beta2) * g * g
    if group.get("amsgrad"):
        v = torch.maximum(state.get("max_exp_avg_sq", zero), v)
    denom = v.sqrt() / (1 - beta2 ** t) ** 0.5 + eps
    return p - lr / (1 - beta1 ** t) * m / denom


def _optimizer_record(optimizer, genuine, updates=()):
    settings = {}
    # the settings of the group whose parameters have gradients (the ones that move): a
    # first group of an unused parameter at the asked lr says nothing of the training
    group = next((g for g in optimizer.param_groups
                  if any(p.grad is not None for p in g["params"])),
                 optimizer.param_groups[0] if optimizer.param_groups else {})
    for name in _SETTINGS:
        # a scheduler has moved lr by the first step (LinearLR, OneCycleLR): the lr the
        # optimizer was built with is kept as initial_lr
        value = group.get("initial_lr", group.get(name)) if name == "lr" else group.get(name)
        if isinstance(value, bool | int | float):
            settings[name] = value
    shapes = [list(p.shape) for g in optimizer.param_groups for p in g["params"]][:32]
    name = _genuine_class(optimizer, genuine) or f"{type(optimizer).__name__} (own step)"
    if not _updates_intact(updates) and not name.endswith("(own step)"):
        name += " (own step)"  # torch's step, updating by functions replaced since
    key = repr((name, sorted(settings.items()), shapes))
    return {"class": name, "settings": settings, "shapes": shapes,
            "steps": 0, "with_grad": 0, "after_cells": [], "continued": False, "fresh": False,
            "key": key}


def optimizer_steps():
    """The records, or None when the hooks could not be installed (this torch has none):
    the host then reads the code alone, as it would without the kernel."""
    state = sys.modules.get(STEPS)
    if state is None:
        return None
    return state.read()


def after_cell(cell):
    """The snapshot after each cell says which one ran last: a step belongs to the next."""
    state = sys.modules.get(STEPS)
    if state is not None and isinstance(cell, int):
        state.set_cell(cell)


def _dataset_root(cls, root, datasets_root):
    """``root``, or the mounted datasets where ``root`` lacks the folder ``cls`` keeps
    its files in (``KMNIST/``, ``cifar-10-batches-py/``) and they hold it. An
    ImageFolder's root is ``resolve_root``'s."""
    try:
        folder = getattr(cls, "base_folder", None) or cls.__name__
        if root is None or not isinstance(folder, str) or "DatasetFolder" in [
                c.__name__ for c in cls.__mro__]:
            return root
        path = os.path.expanduser(os.fspath(root))
        if not os.path.isdir(os.path.join(path, folder)) and \
                os.path.isdir(os.path.join(datasets_root, folder)):
            return datasets_root
    except Exception:
        pass
    return root


def resolve_root(root, datasets_root=None):
    """``root`` if it exists; else the one folder under the datasets (or one level below,
    a dataset's own folder) that ends in the same one or two path components."""
    from _autograder_boundary import DATASETS_MOUNT

    datasets_root = datasets_root or DATASETS_MOUNT
    try:
        path = os.fspath(root)
    except TypeError:
        return root
    if os.path.isdir(path) or not os.path.isdir(datasets_root):
        return root
    parts = [p for p in os.path.normpath(path).split(os.sep) if p not in ("", ".", "..")]
    try:
        tops = ["", *sorted(e for e in os.listdir(datasets_root) if not e.startswith("."))]
    except OSError:
        return root
    for depth in (2, 1):
        tail = parts[-depth:]
        if len(tail) < depth:
            continue
        found = [os.path.join(datasets_root, top, *tail) for top in tops
                 if os.path.isdir(os.path.join(datasets_root, top, *tail))]
        if len(found) == 1:
            return found[0]
    return root


# ---------------------------------------------------------------------------- finding
def _torch():
    return sys.modules.get("torch")


def modules_in(namespace, limit=48, classes=True):
    """Every model the notebook holds: variables, items of lists, tuples and dicts of
    models (one per optimizer, built in a loop), then (``classes``) one fresh instance of
    each of the notebook's own nn.Module classes that needs no arguments (for
    architecture only)."""
    torch = _torch()
    if torch is None:
        return []
    found, seen = [], set()

    def add(label, value):
        if len(found) >= limit or not isinstance(value, torch.nn.Module):
            return
        if id(value) in seen or not any(True for _ in value.parameters()):
            return  # losses and activations have no parameters
        seen.add(id(value))
        found.append((label, value))

    items = [(n, v) for n, v in list(namespace.items()) if not n.startswith("_")]
    for name, value in items:
        add(name, value)
    for name, value in items:
        if isinstance(value, (list, tuple)) and len(value) <= 64:
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item)
        elif isinstance(value, dict) and len(value) <= 64:
            for key, item in list(value.items()):
                add(f"{name}[{key!r}]"[:100], item)
    if not classes:
        return found
    own = [(n, v) for n, v in items if isinstance(v, type)
           and issubclass(v, torch.nn.Module) and v.__module__ == "__main__"]
    for name, cls in own:
        if any(type(m) is cls for _, m in found):
            continue  # a trained instance is already there
        try:
            instance = cls()
        except Exception:
            continue
        add(f"class:{name}", instance)
    return found


def _checkpoint_model(obj, torch):
    """The model a saved object holds: the object itself, or the module or state dict a
    checkpoint dict keeps beside its epoch, accuracy or optimizer state, under whatever
    key ({"epoch": 3, "state": model.state_dict()}; the tutorial's "model_state_dict")."""
    def weights(value):
        return isinstance(value, dict) and bool(value) and all(
            isinstance(v, torch.Tensor) for v in value.values())

    if not isinstance(obj, dict) or weights(obj):
        return obj
    held = [v for v in obj.values() if isinstance(v, torch.nn.Module) or weights(v)]
    preferred = [obj[k] for k in ("state_dict", "model_state_dict", "model", "net")
                 if k in obj and any(obj[k] is v for v in held)]
    return (preferred or held or [obj])[0]


def saved_models(home, namespace, limit=8):
    """Models saved under the home directory: whole modules, or state dicts loaded into
    a fresh instance of a matching in-memory model's class."""
    torch = _torch()
    if torch is None:
        return []
    import copy

    found = []
    for base, dirs, files in os.walk(home):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("data", "datasets")]
        if base.count(os.sep) - home.count(os.sep) > 3:
            continue
        for fname in sorted(files):
            if not fname.endswith(SAVED_SUFFIXES) or len(found) >= limit:
                continue
            path = os.path.join(base, fname)
            label = "file:" + os.path.relpath(path, home)
            try:
                obj = torch.load(path, map_location="cpu", weights_only=False)
            except Exception as exc:
                found.append((label, None, f"could not load: {type(exc).__name__}: {exc}"))
                continue
            obj = _checkpoint_model(obj, torch)
            if isinstance(obj, torch.nn.Module):
                found.append((label, obj, None))
                continue
            if not isinstance(obj, dict):
                found.append((label, None, f"holds a {type(obj).__name__}, not a model"))
                continue
            loaded = None
            for _, model in modules_in(namespace):
                # a fresh instance of its class; else a copy (nn.Sequential() builds an
                # empty container that fits no state dict)
                for make in (lambda m=model: type(m)(), lambda m=model: copy.deepcopy(m)):
                    try:
                        fresh = make()
                        fresh.load_state_dict(obj)
                    except Exception:
                        continue
                    loaded = fresh
                    break
                if loaded is not None:
                    break
            found.append((label, loaded, None if loaded is not None else
                          "a state dict that fits none of the models in the notebook"))
    return found


def _sizes_of_weight(module, kind):
    """A torch layer's sizes as its registered weight has them: the attributes that
    describe them (``in_channels``, ``out_features``) are plain attributes a notebook
    may set to the handout's sizes over a network of other widths."""
    weight = _registered(module, "_parameters").get("weight")
    shape = tuple(getattr(weight, "shape", ()))
    try:
        if kind == "Linear" and len(shape) == 2:
            return {"out_features": int(shape[0]), "in_features": int(shape[1])}
        if kind in ("Conv1d", "Conv2d", "Conv3d") and len(shape) >= 3:
            groups = _own_dict(module).get("groups", 1)
            groups = groups if type(groups) is int and groups > 0 else 1
            return {"out_channels": int(shape[0]), "in_channels": int(shape[1]) * groups,
                    "kernel_size": [int(k) for k in shape[2:]]}
        if kind.startswith("BatchNorm") and len(shape) == 1:
            return {"num_features": int(shape[0])}
    except Exception:
        pass
    return {}


def describe(model):
    """The model's leaf layers and parameters as torch itself registers them (not as the
    model's own methods say), whether each leaf computes with its torch class's forward,
    whether the model's forward is one set on the instance, and whether an optimizer
    moved its parameters while the notebook ran."""
    genuine = _genuine()
    leaves = []
    for name, module in _named_modules(model):
        if any(True for _ in _children(module)):
            continue
        entry = {"name": name, "type": type(module).__name__,
                 "genuine": not _own_forward(module, genuine)}
        for attr in ("in_features", "out_features", "in_channels", "out_channels",
                     "kernel_size", "stride", "padding", "num_features", "p"):
            value = getattr(module, attr, None)
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, int | float | list):
                entry[attr] = value
        entry.update(_sizes_of_weight(module, entry["type"]))
        leaves.append(entry)
    source = ""
    try:
        import inspect

        forward = model.forward
        source = inspect.getsource(getattr(forward, "__func__", forward))[:20000]
    except Exception:
        pass
    parameters = _parameters(model)
    steps = sys.modules.get(STEPS)
    try:
        own = "forward" in _own_dict(model)
    except Exception:
        own = True
    return {"class": type(model).__name__, "leaves": leaves[:200],
            "parameters": int(sum(p.numel() for p in parameters)),
            "forward_source": source, "own_forward": own,
            "trained": bool(steps is not None and steps.trained(parameters))}


# ------------------------------------------------------------------------ transforms
def _datasets(namespace):
    """(name, dataset) for every dataset-like object (and a DataLoader's dataset)."""
    data = _torch().utils.data
    out = []
    for name, value in _with_containers(namespace):
        if name.startswith("_") or isinstance(value, type):
            continue
        try:  # the notebook's objects: any attribute access may raise anything
            # torch's own classes, not look-alikes: an object with ``batch_size`` and a
            # ``dataset`` whose ``targets`` list the handout's counts serves nothing
            loader = isinstance(value, data.DataLoader)
            dataset = value.dataset if loader else value
            if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
                continue
            base = _base(dataset)
            # a notebook's own wrapper need not subclass Dataset, but what it wraps
            # must be torch's (a torchvision dataset, or one of the notebook's own)
            if (base is not None and isinstance(base, data.Dataset)) or (
                    isinstance(dataset, data.Dataset) and _own_labels(dataset) is not None):
                out.append((name, value, dataset))
        except Exception:
            continue
    return out


def _with_containers(namespace, limit=8):
    """The namespace's values, and those of its small dicts, lists and tuples one level
    down: ``dataloaders = {x: DataLoader(...) for x in ['train', 'val']}`` (the PyTorch
    transfer-learning tutorial's shape) holds the notebook's loaders."""
    for name, value in list(namespace.items()):
        yield name, value
        if name.startswith("_"):
            continue
        try:
            if type(value) is dict and len(value) <= limit:
                items = [(f"{name}[{key!r}]", v) for key, v in value.items()]
            elif type(value) in (list, tuple) and len(value) <= limit:
                items = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
            else:
                continue
        except Exception:
            continue
        yield from items


def _base(dataset, depth=0):
    """The underlying torchvision dataset (through Subset, ConcatDataset and the like,
    and a notebook's own wrapper class holding it under any attribute name)."""
    if depth > 5:
        return None
    if hasattr(dataset, "transform") and hasattr(dataset, "targets"):
        return dataset
    inner = getattr(dataset, "dataset", None)
    if inner is None and getattr(dataset, "datasets", None):
        inner = dataset.datasets[0]
    if inner is None:
        inner = _wrapped(dataset)
    return _base(inner, depth + 1) if inner is not None else None


_LABEL_NAMES = ("targets", "labels", "y", "label", "Y", "ys", "classes_idx")


def _own_labels(dataset):
    """A notebook's own Dataset over arrays it built itself (no torchvision dataset
    inside, ``self.X, self.y = ...``): the labels it keeps, a whole-number vector as long
    as the dataset (the attributes named like labels first); None for anything else."""
    import numpy as np

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(dataset, torch.utils.data.Dataset):
        return None
    attributes = getattr(dataset, "__dict__", None)
    if not isinstance(attributes, dict):
        return None
    try:
        size = len(dataset)
    except Exception:
        return None
    values = [attributes[n] for n in _LABEL_NAMES if n in attributes]
    tensors = attributes.get("tensors")
    if isinstance(dataset, torch.utils.data.TensorDataset) and isinstance(tensors, tuple) \
            and len(tensors) >= 2:
        values.append(tensors[-1])  # TensorDataset(X, y): the labels come last
    for value in values:
        try:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            if not isinstance(value, np.ndarray | list):
                continue
            array = np.asarray(value)
        except Exception:
            continue
        if array.ndim == 1 and array.dtype.kind in "iu" and len(array) == size and size:
            return array
    return None


def _wrapped(dataset):
    """The dataset a notebook's own Dataset class keeps as an attribute (``self.base``)."""
    attributes = getattr(dataset, "__dict__", None)
    if not isinstance(attributes, dict):
        return None
    for value in list(attributes.values())[:32]:
        if value is not dataset and not isinstance(value, type) and hasattr(
                value, "__getitem__") and hasattr(value, "__len__") and (
                hasattr(value, "targets") or hasattr(value, "dataset")):
            return value
    return None


def _own_indices(dataset, base):
    """The indices into ``base`` a notebook's wrapper keeps (``self.idx``), when one of
    its attributes is an integer array as long as the wrapper."""
    import numpy as np

    attributes = getattr(dataset, "__dict__", None)
    if not isinstance(attributes, dict):
        return None
    for value in list(attributes.values())[:32]:
        if value is base or isinstance(value, str | bytes | dict):
            continue
        try:
            array = np.asarray(value)
        except Exception:
            continue
        if array.ndim == 1 and array.dtype.kind in "iu" and len(array) == len(dataset):
            return array
    return None


def _raw_shape(base):
    """The shape of one stored image (MNIST (28, 28), CIFAR (32, 32, 3)), if known."""
    data = getattr(base, "data", None)
    shape = getattr(data, "shape", None)
    return tuple(shape[1:]) if shape is not None and len(shape) >= 3 else None


def student_transform(namespace, want_train=False, images=None):
    """The transform of the notebook's dataset that holds images like ``images`` (a
    notebook with MNIST and CIFAR-10 has two), the test split's first."""
    choices = []
    want = tuple(images.shape[1:]) if images is not None else None
    for _, _, dataset in _datasets(namespace):
        base = _base(dataset)
        if base is not None and base.transform is not None:
            shape = _raw_shape(base)
            if want is not None and shape is not None and shape != want:
                continue
            choices.append((shape is None, bool(getattr(base, "train", True)) != want_train,
                            len(choices), base.transform))
    choices.sort(key=lambda c: c[:3])
    return choices[0][3] if choices else None


def _served_items(namespace, size, limit=256):
    """Up to ``limit`` inputs (evenly spaced) the notebook's test data serve its models,
    as float tensors of ``size`` values each: the dataset its test loader reads, else a
    Dataset of its own over arrays. None when none serves inputs of that size."""
    import numpy as np

    torch = _torch()
    loader = test_loader(namespace)
    sources = [loader.dataset] if loader is not None else []
    sources += [d for name, _, d in _datasets(namespace)
                if _base(d) is None and "train" not in name.lower()]
    for dataset in sources:
        try:
            count = len(dataset)
            items = []
            for i in np.linspace(0, count - 1, min(count, limit)).astype(int):
                item = dataset[int(i)]
                x = item[0] if isinstance(item, tuple | list) else item
                if not isinstance(x, torch.Tensor) or x.numel() != size:
                    break
                items.append(x.detach().float().cpu())
            if items and len(items) == min(count, limit):
                return torch.stack(items)
        except Exception:
            continue
    return None


def matched_transform(namespace, transform, images, limit=256):
    """``transform``, or where the notebook's own test inputs have other statistics
    than ``transform`` makes of images like them (a Dataset of arrays scaled by 1/255
    where the handout normalises, a wrapper serving a torchvision dataset's raw ``data``
    however that dataset's transform reads), ``transform`` followed by the per-channel
    affine map that gives its outputs the notebook's means and spreads, laid out as the
    notebook serves them ((C, H, W), (H, W, C) or flat). The images are prepared as the
    network saw its own; their labels stay outside. Second value: whether it changed."""
    from PIL import Image

    torch = _torch()
    prepared = torch.stack([transform(Image.fromarray(img)) for img in images[:limit]])
    if prepared.ndim != 4:
        return transform, False
    channels = prepared.shape[1]
    served = _served_items(namespace, prepared[0].numel(), limit)
    if served is None:
        return transform, False
    layout = _layout(served, prepared)
    if layout is None:
        return transform, False
    as_chw = layout[1]
    mine = prepared.transpose(0, 1).reshape(channels, -1)
    theirs = as_chw(served).transpose(0, 1).reshape(channels, -1)
    m_mine, s_mine = mine.mean(dim=1), mine.std(dim=1)
    m_theirs, s_theirs = theirs.mean(dim=1), theirs.std(dim=1)
    if bool((s_mine < 1e-6).any()) or bool((s_theirs < 1e-6).any()):
        return transform, False
    spread = torch.maximum(s_mine, s_theirs)
    if bool(((m_mine - m_theirs).abs() <= 0.25 * spread).all()) and bool(
            ((s_mine / s_theirs).log().abs() <= 0.2).all()):
        return transform, False  # the same preparation, as far as its outputs show
    scale = (s_theirs / s_mine).view(-1, 1, 1)
    shift = (m_theirs - m_mine * (s_theirs / s_mine)).view(-1, 1, 1)
    to_served = layout[0]

    def matched(image):
        return to_served(transform(image).float() * scale + shift)

    return matched, True


def _layout(served, prepared):
    """How the notebook lays one input out, against the transform's (C, H, W): a pair
    (from C, H, W to the notebook's layout; from a batch in that layout to C, H, W
    batches), or None when its inputs are not the same pixels in any known order."""
    c, h, w = prepared.shape[1:]
    shape = tuple(served.shape[1:])
    if shape == (c, h, w):
        return (lambda x: x), (lambda b: b)
    if shape == (h, w, c):
        return (lambda x: x.permute(1, 2, 0)), (lambda b: b.permute(0, 3, 1, 2))
    if c == 1 and shape == (h, w):
        return (lambda x: x[0]), (lambda b: b.unsqueeze(1))
    if shape != (c * h * w,):
        return None
    # flat: channel planes one after another (CIFAR's own rows) or pixels interleaved
    # (a torchvision dataset's (H, W, C) data flattened); the one whose mean image
    # follows the transform's mean image is the notebook's
    chw = (lambda x: x.reshape(-1)), (lambda b: b.view(-1, c, h, w))
    hwc = (lambda x: x.permute(1, 2, 0).reshape(-1)), (
        lambda b: b.view(-1, h, w, c).permute(0, 3, 1, 2))
    if c == 1:
        return chw
    mean = prepared.mean(dim=0)

    def agreement(option):
        theirs = option[1](served).mean(dim=0).reshape(-1)
        r = float(_torch().corrcoef(_torch().stack([theirs, mean.reshape(-1)]))[0, 1])
        return r if r == r else -1.0  # a flat mean image correlates with nothing

    return max((chw, hwc), key=agreement)


def build_transform(steps):
    import torchvision.transforms as T

    allowed = {"ToTensor", "Normalize", "Resize", "CenterCrop", "Grayscale"}
    parts = []
    for step in steps:
        if step[0] not in allowed:
            raise ValueError(f"transform {step[0]} not allowed")
        parts.append(getattr(T, step[0])(*step[1:]))
    return T.Compose(parts)


# ------------------------------------------------------------------ pretrained weights
# where the sandbox mounts the grader's weights, read-only (graders.boundary.TORCH_HOME):
# not the TORCH_HOME of the environment, which a notebook may point at a cache of its own
# holding its own network's weights under a checkpoint's name
WEIGHTS_FOLDER = "/opt/torch-home/hub/checkpoints"


def _checkpoints():
    """The torch hub checkpoints the grader mounted (the offline weights cache)."""
    folder = WEIGHTS_FOLDER
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names
            if n.endswith((".pth", ".pt")) and os.path.isfile(os.path.join(folder, n))][:8]


def pretrained_match(model, limit=200):
    """How close the model's weight tensors are to each mounted checkpoint's tensors of
    the same name and shape (a replaced head has another shape and is left out): the
    best mean cosine similarity, the file, how many tensors it compared, and how many
    weight tensors the checkpoint holds (one copied tensor is not the network's)."""
    torch = _torch()
    best = {"file": None, "similarity": 0.0, "matched": 0, "tensors": 0}
    own = {k: v for k, v in _state_dict(model).items()
           if getattr(v, "ndim", 0) >= 2 and v.is_floating_point()}
    for path in _checkpoints():
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            continue
        if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
            ckpt = ckpt["state_dict"]
        if not isinstance(ckpt, dict):
            continue
        sims = []
        for key, value in list(own.items())[:limit]:
            parts = key.split(".")
            # a model that wraps the network (self.backbone = resnet34()) adds prefixes
            ref = next((ckpt[".".join(parts[i:])] for i in range(len(parts))
                        if ".".join(parts[i:]) in ckpt), None)
            if ref is None or tuple(ref.shape) != tuple(value.shape):
                continue
            a = value.detach().float().cpu().reshape(-1)
            b = ref.float().reshape(-1)
            denom = float(a.norm() * b.norm())
            if denom > 0:
                sims.append(float(a @ b) / denom)
        # a checkpoint whose tensors the model has, at any similarity: a network of its
        # shapes trained from scratch (a mean near 0, below it as often as above) is
        # still the network the checkpoint would have started
        if sims and (best["file"] is None or sum(sims) / len(sims) > best["similarity"]):
            weights = sum(1 for v in ckpt.values() if getattr(v, "ndim", 0) >= 2
                          and v.is_floating_point())
            best = {"file": os.path.basename(path), "similarity": sum(sims) / len(sims),
                    "matched": len(sims), "tensors": weights}
    return best


# -------------------------------------------------------------------------- inference
def _device(model):
    """Where the model lives (cuda on a GPU worker), so inputs go there too."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return _torch().device("cpu")


def predict(model, images, transform, batch=256):
    """Class predictions for uint8 images (N x H x W or N x H x W x C)."""
    torch = _torch()
    from PIL import Image

    model.eval()
    device = _device(model)
    out = []
    flatten = False
    with torch.no_grad():
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            tensors = [transform(Image.fromarray(img)) for img in chunk]
            x = torch.stack(tensors).to(device)
            if flatten:
                logits = model(x.view(len(x), -1))
            else:
                try:
                    logits = model(x)
                except RuntimeError:
                    # a model that expects inputs flattened by the training loop
                    logits = model(x.view(len(x), -1))
                    flatten = True
            out.append(logits.argmax(dim=1).cpu())
    return torch.cat(out).numpy()


def untrained_copy(model):
    """The same network with every layer's parameters drawn afresh (seeded, without
    touching the notebook's random state): what the architecture reaches untrained."""
    import copy

    torch = _torch()
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
        # a parameter no layer re-draws (a student's own nn.Parameter): drawn here as a
        # linear layer would draw it, or the control would keep what training learned
        for old, new in zip(model.parameters(), fresh.parameters(), strict=False):
            if new.numel() > 1 and torch.equal(old, new):
                bound = 1 / max(1, new.shape[-1] if new.dim() > 1 else new.numel()) ** 0.5
                new.uniform_(-bound, bound)
    return fresh


def _first_run(model, shape, batch, call=None):
    """The model's output on the first input it takes: the batch of 4, then the sizes
    students hard-code (x.view(100, -1) with the loader's 100), each as the data gives
    it, flattened, or without the single channel (rows of a grey image). Raises the
    first error when it takes none. ``call`` runs the model (``model(x)`` unless given)."""
    torch = _torch()
    call = call or model
    first = None
    for size in (batch, 1, 100, 64, 128, 32, 256):
        x = torch.randn((size, *shape), generator=torch.Generator().manual_seed(0))
        x = x.to(_device(model))
        forms = [tuple(x.shape), (size, -1)] + ([(size, *shape[1:])] if shape[0] == 1 else [])
        for form in forms:
            try:
                return call(x.reshape(form))
            except Exception as exc:
                first = first or exc
    raise first


def forward_probe(model, shape, batch=4):
    """The model run on a small batch shaped like the data (seeded noise, evaluation
    mode, no gradients): its outputs say whether it gives logits or probabilities, and
    an error says it cannot take the data at all. "watched": run again as the notebook
    runs it (no layer wrapped, no function mode), twice, it agrees with itself and not
    with the watched run: a forward that computes otherwise when it is observed (the
    handout's network only while torch's function mode is on, a ReLU only while the
    layer's forward is wrapped) describes a network that never answers."""
    found = _watched_forward(model, shape, batch)
    if isinstance(found, dict) and "outputs" in found:
        found["watched"] = _differs_when_watched(model, shape, batch, found["outputs"])
    return found


def _graph(model):
    """An empty graph of a pass of ``model`` for ``_recording``: its parameters and
    buffers known; "stored": the values computed with that no call of the pass made, no
    parameter holds and the input is not."""
    params = {id(v) for _, m in _named_modules(model)
              for v in _registered(m, "_parameters").values() if v is not None}
    return {"nodes": [], "index": {}, "stored": {}, "params": params, "known": params | {
        id(v) for _, m in _named_modules(model)
        for v in _registered(m, "_buffers").values() if v is not None}}


def stored_in_forward(model, images, transform):
    """How many values the model computes with, on four of the grader's images prepared
    as ``predict`` prepares them, that it neither learned nor was given (a bank of
    training images it looks up, kept beside the network); -1 when it runs only while
    not recorded; None without the function mode, or when it does not run at all."""
    torch = _torch()
    genuine = _genuine()
    if _function_mode(genuine) is None:
        return None
    was_training = getattr(model, "training", False)
    try:
        from PIL import Image

        graph = _graph(model)
        model.eval()
        x = torch.stack([transform(Image.fromarray(img)) for img in images[:4]]).to(
            _device(model))
        graph["nodes"].append(("input", [], True, False))
        graph["index"][id(x)] = 0

        def run():
            try:
                model(x)
            except RuntimeError:
                model(x.view(len(x), -1))

        try:
            with torch.no_grad(), _recording(genuine, [], [False], graph):
                run()
        except Exception:
            # -1: a forward that raises only while it is recorded (numpy written into
            # a tensor, or a test for the recording) hides what it computes with
            with torch.no_grad():
                run()
            return -1
        return sum(graph["stored"].values())
    except Exception:
        return None
    finally:
        try:  # noqa: SIM105
            model.train(was_training)
        except Exception:
            pass


def _differs_when_watched(model, shape, batch, outputs):
    import numpy as np

    torch = _torch()
    was_training = model.training
    # torch's fast path for attention (nested tensors: a padded position's output is
    # zero) is taken only outside a function mode: off here, so that a Transformer runs
    # the same arithmetic watched and unwatched
    mha = getattr(torch.backends, "mha", None)
    fast = mha.get_fastpath_enabled() if mha is not None else None
    try:
        model.eval()
        runs = []
        if fast:
            mha.set_fastpath_enabled(False)
        with torch.no_grad():
            for _ in range(2):
                out = _first_run(model, shape, batch)
                out = out[0] if isinstance(out, tuple | list) and out else out
                runs.append(out.detach().float().cpu().reshape(len(out), -1)[:8, :1000]
                            .numpy())
        a, b = runs
        same = a.shape == b.shape and np.allclose(a, b, atol=1e-5)
        return bool(same and not (a.shape == outputs.shape
                                  and np.allclose(a, outputs, atol=1e-4, rtol=1e-4)))
    except Exception:
        return False
    finally:
        if fast:
            try:  # noqa: SIM105
                mha.set_fastpath_enabled(True)
            except Exception:
                pass
        try:  # noqa: SIM105
            model.train(was_training)
        except Exception:
            pass


def _watched_forward(model, shape, batch=4):
    torch = _torch()
    was_training = model.training
    # the leaf modules the forward pass calls, in order: a layer defined and never called
    # is not part of the network (its parameters still count, as the notebook's do). Each
    # leaf's forward is wrapped on the instance, so that module(x) and module.forward(x)
    # both count; a leaf that cannot be wrapped (a scripted one) is "unwatched"
    genuine = _genuine()
    called, wrapped, unwatched, samples = [], [], [], {}
    sequence = []  # every leaf call in order, repeats kept (a dropout used twice)
    quiet = [False]  # the sampling's own detach, clone and cpu are not the pass's
    for index, (name, module) in enumerate(_named_modules(model)):
        if any(True for _ in _children(module)):
            continue
        if index >= 400:
            unwatched.append(name)
            continue
        try:
            original = module.forward

            def watching(*args, _n=name, _f=original, **kwargs):
                if _n not in called:
                    called.append(_n)
                if len(sequence) < 2000:
                    sequence.append(_n)
                x = args[0] if args and isinstance(args[0], torch.Tensor) else None
                # what an element-wise leaf makes of its input, on this pass (before it
                # runs: an in-place ReLU overwrites its input)
                before = None
                if x is not None and _n not in samples and len(samples) < 64:
                    quiet[0] = True
                    try:
                        before = x.detach().reshape(-1)[:64].float().cpu().clone()
                    finally:
                        quiet[0] = False
                out = _f(*args, **kwargs)
                if before is not None and isinstance(out, torch.Tensor) and \
                        out.shape == x.shape:
                    quiet[0] = True
                    try:
                        samples[_n] = {"x": before.numpy(), "y": out.detach().reshape(-1)[
                            :64].float().cpu().numpy()}
                    finally:
                        quiet[0] = False
                return out

            module.forward = watching
            wrapped.append(module)
        except Exception:
            unwatched.append(name)
    # torch's functions the pass calls, however they are reached (``F.relu``, a tensor's
    # ``.relu()``, a layer's forward, or ``torch.relu`` rebound to ``torch.sigmoid``,
    # which calls sigmoid): what it computes, not what its source mentions
    functions = []
    graph = _graph(model)
    try:
        model.eval()
        with torch.no_grad(), _recording(genuine, functions, quiet, graph):
            out = _first_run(model, shape, batch)
        if isinstance(out, tuple | list) and out:
            out = out[0]
        if not isinstance(out, torch.Tensor):
            return {"error": f"forward returned a {type(out).__name__}, not a tensor"}
        found = {"outputs": out.detach().float().cpu().reshape(len(out), -1)[:8, :1000].numpy(),
                 "called": list(called[:400]), "unwatched": list(unwatched[:400]),
                 "sequence": list(sequence),
                 "samples": dict(samples),
                 "functions": list(functions[:200]) if _function_mode(genuine) else None,
                 "on_path": _on_path(graph, out) if _function_mode(genuine) else None,
                 # values the pass computed with that it neither learned nor was given:
                 # buffers, tensors kept beside the model, tensors made from no tensor
                 # (a bank of training images looked up by nearest neighbour)
                 "stored": sum(graph["stored"].values()) if _function_mode(genuine)
                 else None}
        graph = None  # the tensors' ids only: nothing of the pass is kept
        found["hooked"] = _hooks_change(model, shape, batch, found["outputs"])
        return found
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        for module in wrapped:
            try:  # noqa: SIM105
                del module.forward  # the class's forward again
            except Exception:
                pass
        # try/except, not contextlib.suppress: a notebook can replace a library function
        try:  # noqa: SIM105
            model.train(was_training)
        except Exception:
            pass


def _hooks_change(model, shape, batch, outputs):
    """Whether forward hooks (on the model's modules, or torch's global ones), or a way
    of calling it that is not torch's (a class's own ``__call__``, a compiled call set on
    the instance), change what it computes: the same batch run again through torch's own
    call with every hook set aside, the outputs compared. A hook that rewrites a ReLU's
    output, or a ``__call__`` returning another head's, makes the layers described no
    longer the network that answers. A forward that differs from run to run by itself
    (noise of its own) says nothing either way."""
    import numpy as np
    import torch.nn.modules.module as torch_module

    torch = _torch()
    genuine = _genuine()
    stash = []
    for _, module in _named_modules(model):
        try:
            own = _own_dict(module)
        except Exception:
            continue
        for attr in ("_forward_hooks", "_forward_pre_hooks"):
            hooks = own.get(attr)
            if isinstance(hooks, dict) and hooks:
                stash.append((hooks, dict(hooks)))
    for attr in ("_global_forward_hooks", "_global_forward_pre_hooks"):
        hooks = getattr(torch_module, attr, None)
        if isinstance(hooks, dict) and hooks:
            stash.append((hooks, dict(hooks)))
    impl = getattr(genuine, "call_impl", None)
    try:
        called_otherwise = _own_dict(model).get("_compiled_call_impl") is not None or \
            next((cls.__dict__["__call__"] for cls in type(model).__mro__
                  if "__call__" in cls.__dict__), None) is not getattr(genuine, "call", None)
    except Exception:
        called_otherwise = True
    if not stash and not (called_otherwise and impl is not None):
        return False

    def flat(out):
        if isinstance(out, tuple | list) and out:
            out = out[0]
        return out.detach().float().cpu().reshape(len(out), -1)[:8, :1000].numpy()

    def same(a, b):
        return a.shape == b.shape and np.allclose(a, b, atol=1e-5)

    try:
        with torch.no_grad():
            if not same(flat(_first_run(model, shape, batch)), outputs):
                return False
    except Exception:
        return False
    try:
        for hooks, _ in stash:
            hooks.clear()
        with torch.no_grad():
            bare = _first_run(model, shape, batch,
                              call=(lambda x: impl(model, x)) if impl is not None else None)
        return not same(flat(bare), outputs)
    except Exception:
        return True  # without its hooks it does not even run: they are its computation
    finally:
        for hooks, saved in stash:
            hooks.update(saved)


MAX_NODES = 20000  # torch calls of one forward pass kept in its graph
_INPUTS = ("randn", "input")  # the graph's nodes that make the probe's inputs
# calls that make a tensor from no data (an output preallocated and filled by a
# convolution written by hand, positions, noise): nothing stored is in it
_BLANK = frozenset(("zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye",
                    "rand", "randn", "randint", "randperm", "empty_strided", "normal",
                    "tril_indices", "triu_indices"))


def _function_mode(genuine):
    """torch's TorchFunctionMode as captured, or as torch has it now where the capture
    lost it (a notebook that sets it to None to stop the recording)."""
    return getattr(genuine, "TorchFunctionMode", None) or getattr(
        sys.modules.get("torch.overrides"), "TorchFunctionMode", None)


def _recording(genuine, functions, quiet=(False,), graph=None):
    """A torch function mode that notes each function's name as it is called (not while
    ``quiet[0]``: the probe's own calls), and (``graph``: {"nodes": [], "index": {}}) which
    call made each tensor from which: the calls the output was computed through are
    those it descends from (a ReLU whose result only feeds a statistic never reaches
    the output; "known": the ids of the model's parameters and buffers)."""
    import contextlib

    mode = _function_mode(genuine)
    if mode is None:
        return contextlib.nullcontext()
    seen = set()
    torch = _torch()

    def tensors(value, depth=0):
        if isinstance(value, torch.Tensor):
            yield value
        elif depth < 2 and isinstance(value, tuple | list):
            for item in value[:64]:
                yield from tensors(item, depth + 1)
        elif depth < 2 and isinstance(value, dict):
            for item in list(value.values())[:64]:
                yield from tensors(item, depth + 1)

    class Recording(mode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", None)
            if isinstance(name, str) and name not in seen and len(seen) < 400 \
                    and not quiet[0]:
                seen.add(name)
                functions.append(name)
            result = func(*args, **(kwargs or {}))
            if graph is not None and not quiet[0] and len(graph["nodes"]) < MAX_NODES:
                # by the tensor's id at the time: an id reused by a later tensor is
                # overwritten by the call that made it
                index, known = graph["index"], graph["known"]
                inputs = list(tensors((args, kwargs)))
                parents = [index[id(t)] for t in inputs if id(t) in index]
                stored, nodes = graph.get("stored"), graph["nodes"]
                outside = False
                if stored is not None:
                    for t in inputs:
                        made = nodes[index[id(t)]] if id(t) in index else None
                        if id(t) not in graph["params"] and id(t) not in stored and (
                                made is None or made[3]):
                            stored[id(t)] = t.numel()
                    # data handed to torch from outside it (a numpy bank written into a
                    # blank, ``weight.new_tensor(bank)``), by where it lies in memory
                    for key, size in _outside((args, kwargs)):
                        stored.setdefault(key, size)
                        outside = True
                # a tensor no recorded call made, and no parameter or buffer: made where
                # the mode does not reach (a scripted part): the path is not all known
                whole = all(id(t) in index or id(t) in known for t in inputs)
                name = name if isinstance(name, str) else "?"
                # made from data no tensor held: not from a tensor (a parameter's
                # reshape is the parameter's), not the probe's own input (seeded noise,
                # the grader's images), not a blank, not from data counted as it came
                # in from outside torch
                graph["nodes"].append((name, parents, whole, not inputs and
                                       name not in _INPUTS and name not in _BLANK
                                       and not outside))
                for t in tensors(result):
                    index[id(t)] = len(graph["nodes"]) - 1
            return result

    return Recording()


def _outside(value, depth=0):
    """(key, values) of each numpy array, and each long Python list (a bank written out
    as rows), among a call's arguments."""
    if isinstance(value, torch_tensor_types()):
        return
    module = type(value).__module__ or ""
    face = getattr(value, "__array_interface__", None) if \
        module.split(".")[0] == "numpy" else None
    if isinstance(face, dict):
        try:
            size = int(getattr(value, "size", 1))
            yield ("array", face["data"][0], size), size
        except Exception:
            pass
    elif module == "array" and type(value).__name__ == "array":
        yield ("array", id(value)), len(value)
    elif depth < 3 and isinstance(value, list | tuple):
        if len(value) >= 256 and not isinstance(value[0], torch_tensor_types()):
            first = value[0]
            width = len(first) if isinstance(first, list | tuple) else \
                int(getattr(first, "size", 1)) if isinstance(getattr(first, "size", None),
                                                              int) else 1
            yield ("list", id(value)), len(value) * width
        else:
            for item in value[:64]:
                yield from _outside(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in list(value.values())[:64]:
            yield from _outside(item, depth + 1)


def torch_tensor_types():
    torch = sys.modules.get("torch")
    return (torch.Tensor,) if torch is not None else ()


def _on_path(graph, out):
    """The names of the torch calls ``out`` was computed through; None when the graph
    does not hold it (filled up, or never recorded)."""
    start = graph["index"].get(id(out))
    if start is None:
        return None
    nodes, names, todo, done = graph["nodes"], set(), [start], set()
    while todo:
        node = todo.pop()
        if node in done:
            continue
        done.add(node)
        name, parents, whole, _ = nodes[node]
        if not whole:
            return None
        names.add(name)
        todo.extend(parents)
    return sorted(names)[:200]


def public_eval(model, loader, limit=20000):
    """Predictions and labels on the student's own test loader (labels are public)."""
    torch = _torch()
    model.eval()
    device = _device(model)
    preds, labels, seen = [], [], 0
    with torch.no_grad():
        for x, y in _in_process(loader):
            x = x.to(device)
            try:
                logits = model(x)
            except RuntimeError:
                logits = model(x.view(len(x), -1))
            preds.append(logits.argmax(dim=1).cpu())
            labels.append(torch.as_tensor(y).cpu())
            seen += len(x)
            if seen >= limit:
                break
    return torch.cat(preds).numpy(), torch.cat(labels).numpy()


def _in_process(loader):
    """The student's loader without worker processes (the same dataset, batches and
    order): the notebook's workers were paused before grading, and a persistent one
    would never answer."""
    if not getattr(loader, "num_workers", 0):
        return loader
    torch = _torch()
    try:
        if getattr(loader, "batch_size", None) is None:
            return torch.utils.data.DataLoader(loader.dataset,
                                               batch_sampler=loader.batch_sampler,
                                               collate_fn=loader.collate_fn)
        return torch.utils.data.DataLoader(loader.dataset, batch_size=loader.batch_size,
                                           sampler=loader.sampler,
                                           collate_fn=loader.collate_fn,
                                           drop_last=loader.drop_last)
    except Exception:
        return loader


def test_loader(namespace):
    found = [(name, value, dataset, _base(dataset))
             for name, value, dataset in _datasets(namespace)]
    for _name, value, dataset, base in found:
        if value is not dataset and base is not None and not getattr(base, "train", True):
            return value
    # a loader over the notebook's own Dataset of arrays: its name says it is the test one
    for name, value, dataset, base in found:
        if value is not dataset and base is None and "test" in name.lower():
            return value
    return None


# --------------------------------------------------------------------------- loaders
def _labels(dataset):
    import numpy as np

    base = _base(dataset)
    if base is None:
        return _own_labels(dataset)
    targets = np.asarray(getattr(base, "targets", []))
    if dataset is base:
        return targets
    indices = getattr(dataset, "indices", None)
    if indices is not None and getattr(dataset, "dataset", None) is base:
        return targets[np.asarray(indices)]
    if _wrapped(dataset) is base:
        # the notebook's own class: the labels it serves are the base's at its indices
        # (renumbered, maybe: the class sizes are what is compared)
        own = _own_indices(dataset, base)
        if own is not None and len(targets) and own.max() < len(targets):
            return targets[own]
    return None


def describe_loaders(namespace):
    loaders, tried = [], {}
    for name, value, dataset in _datasets(namespace):
        base = _base(dataset)
        own = base is None  # the notebook's own Dataset over its own arrays
        base = dataset if own else base
        entry = {"name": name, "is_loader": value is not dataset,
                 "batch_size": _batch_size(value), "length": len(dataset),
                 "base": type(base).__name__,
                 # which split its arrays came from is not in them
                 "train": None if own else bool(getattr(base, "train", True)),
                 "transforms": _transform_names(getattr(base, "transform", None))}
        if entry["transforms"]:
            key = id(base.transform)
            if key not in tried:
                tried[key] = (_last_step_behaviour(base.transform, dataset),
                              _last_step_behaviour(base.transform, dataset, back=2))
            entry["last_step"], before = tried[key]
            if before is not None:
                # a per-pixel Normalize after the permutation leaves it a permutation
                entry["before_last"] = before
        labels = _labels(dataset)
        if labels is not None and len(labels):
            values, counts = __import__("numpy").unique(labels, return_counts=True)
            entry["label_counts"] = {str(int(v)): int(c)
                                     for v, c in zip(values, counts, strict=True)}
        if entry["is_loader"]:
            served = _served(value, labels, len(dataset))
            if served is not None:
                entry["served"] = served
        loaders.append(entry)
    return loaders


MAX_SERVED = 200_000  # indices of one epoch walked; a bigger epoch is not judged


def _served(loader, labels, length, epochs=2):
    """What the loader's batch sampler serves, walked as training walks it (indices
    only, no data loaded), over two epochs: its largest batch, and of the epoch serving
    the fewest distinct indices, how many in all, how many distinct, and their labels. A
    sampler of the notebook's own may say one batch size and serve another, or serve a
    part of the dataset it wraps (from its second epoch on, say). The global random state
    is put back: the sampler's shuffling draws from it."""
    import numpy as np

    torch = _torch()
    try:
        sampler = _own_dict(loader).get("batch_sampler")
        if sampler is None:
            return None
        largest, total, seen = 0, 0, None
        with torch.random.fork_rng(devices=[]):
            for _ in range(epochs):
                count, distinct = 0, set()
                for batch in sampler:
                    batch = list(batch)
                    largest, count = max(largest, len(batch)), count + len(batch)
                    distinct.update(int(i) for i in batch)
                    if count > MAX_SERVED:
                        return None
                if seen is None or len(distinct) < len(seen):
                    total, seen = count, distinct
    except Exception:
        return None
    seen = seen or set()
    served = {"largest": largest, "indices": total, "distinct": len(seen)}
    if labels is not None and len(labels) == length and seen and \
            min(seen) >= 0 and max(seen) < length:
        values, counts = np.unique(np.asarray(labels)[sorted(seen)], return_counts=True)
        served["label_counts"] = {str(int(v)): int(c)
                                  for v, c in zip(values, counts, strict=True)}
    return served


def _batch_size(loader):
    """The size the loader's batch sampler batches by (what training gets), read from
    the instance: a class may answer ``batch_size`` with a property of its own."""
    try:
        own = _own_dict(loader)
        sampler = own.get("batch_sampler")
        if sampler is not None:
            size = _own_dict(sampler).get("batch_size")
            if isinstance(size, int):
                return size
        if "batch_size" in own:
            return own["batch_size"]
    except Exception:
        pass
    return getattr(loader, "batch_size", None)


MAX_PERMUTED = 16384  # pixels of the images a permutation is tried on (3x64x64 fits)


def _last_step_behaviour(transform, dataset, back=1):
    """What the pipeline's last step makes of a ramp image (twice) and of a noise image
    (numpy's generator seeded 0), both of the shape the dataset yields: the three outputs
    as arrays, which the host compares with the inputs it knows (so a notebook that
    patches torch cannot make a step look like a fixed permutation); "error" when the
    step raised, "none" when it gave no tensor of as many values, None when there is no
    image to try it on (``back``: the step that many from the end, where there is one).
    The step's name says nothing a student cannot rename."""
    torch = _torch()
    import numpy as np

    inner = getattr(transform, "transforms", None)
    if back > 1 and not (isinstance(inner, list | tuple) and len(inner) >= back):
        return None
    step = inner[-back] if isinstance(inner, list | tuple) and inner else transform
    try:
        sample = dataset[0]
        sample = sample[0] if isinstance(sample, tuple | list) else sample
        if not isinstance(sample, torch.Tensor) or not 4 <= sample.numel() <= MAX_PERMUTED:
            return None
        shape, n = sample.shape, sample.numel()
        # values i/n: where each pixel went is read back from its value. In the dtype
        # the dataset's items come in: a step that permutes only float64 tensors
        # (the probe's, once) passes the images it is given through
        dtype = sample.dtype if sample.is_floating_point() else torch.float64
        ramp = (torch.arange(n, dtype=torch.float64).reshape(shape) / n).to(dtype)
        noise = np.random.default_rng(0).random(n)
        # items on ToTensor's grid (k/255): the noise on it too, so that a step cannot
        # tell the probe's images from the data's by their values (permuting only what
        # is off the grid, or only what is on it, permutes the two images differently)
        on_grid = bool(sample.is_floating_point()) and bool(torch.all(
            (sample.double() * 255 - (sample.double() * 255).round()).abs() < 1e-4))
        if on_grid:
            noise = np.rint(noise * 255) / 255
        noise = torch.from_numpy(noise).reshape(shape).to(dtype)
        with torch.no_grad():
            outputs = [step(ramp.clone()), step(ramp.clone()), step(noise.clone())]
    except Exception:
        return "error"
    if not all(isinstance(t, torch.Tensor) and t.numel() == n for t in outputs):
        return "none"
    first, second, moved = (np.asarray(t.detach().cpu().reshape(-1).double().numpy(),
                                       dtype=np.float64) for t in outputs)
    return {"first": first, "second": second, "moved": moved, "grid": 255 if on_grid else 0}


def _transform_names(transform):
    if transform is None:
        return []
    inner = getattr(transform, "transforms", None)
    if isinstance(inner, list | tuple):
        return [type(t).__name__ for t in inner]
    return [type(transform).__name__]


# ----------------------------------------------------------------------- model builds
def build_model(layers):
    torch = _torch() or __import__("torch")
    parts = []
    for layer in layers:
        if layer[0] not in SAFE_LAYERS:
            raise ValueError(f"layer {layer[0]} not allowed")
        parts.append(getattr(torch.nn, layer[0])(*layer[1:]))
    return torch.nn.Sequential(*parts)
