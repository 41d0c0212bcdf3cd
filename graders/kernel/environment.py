"""Runs *inside* the student's kernel (injected as source, never imported by the trusted
side): lets notebooks written for Colab or a laptop run unchanged in the sandbox.

- ``google.colab`` imports (``drive.mount`` is a no-op that says so; ``files``,
  ``output``, ``patches`` answer every attribute with a harmless no-op);
- ``%cd`` into a path that does not exist here (a Drive folder, ``/content/...``) lands
  in the working directory, where the submission's and the course's files are;
- ``!pip install``, ``%pip``, ``!nvidia-smi``, downloads and other network commands are
  not run (there is no network) and print a note instead; other shell escapes run as usual.
"""

import importlib
import importlib.abc
import importlib.util
import os
import shlex
import sys
import types

NOTE = "[autograder] "
COLAB_MODULES = ("google.colab", "google.colab.drive", "google.colab.files",
                 "google.colab.output", "google.colab.patches", "google.colab.auth",
                 "google.colab.data_table", "google.colab.widgets")
# Commands that need the network or hardware the sandbox does not have.
OFFLINE = {"pip", "pip3", "conda", "mamba", "apt", "apt-get", "wget", "curl", "gdown",
           "git", "kaggle", "nvidia-smi", "gsutil", "huggingface-cli", "sudo"}


def _note(text):
    print(NOTE + text)


def _noop(*args, **kwargs):
    return None


def _mount(mountpoint="/content/drive", *args, **kwargs):
    _note(f"drive.mount({mountpoint!r}) skipped: Google Drive is not available while "
          "grading; your notebook runs next to the files you handed in")


def _colab_module(name):
    module = types.ModuleType(name)
    submodules = {m.rsplit(".", 1)[1] for m in COLAB_MODULES if m.count(".") == 2}

    def helper(attr):
        # submodules are imported for real (``from google.colab import drive``), and
        # dunder lookups (inspect, pickle) must fail as for any module
        if attr.startswith("_") or (name == "google.colab" and attr in submodules):
            raise AttributeError(attr)
        return _noop  # any other helper: a harmless no-op

    module.__getattr__ = helper
    if name == "google.colab":
        module.__path__ = []
    if name == "google.colab.drive":
        module.mount = _mount
        module.flush_and_unmount = _noop
    if name == "google.colab.files":
        module.upload = lambda *a, **k: {}
    return module


class _ColabFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: serves ``google.colab*`` (and a bare ``google`` package
    when no real one exists), never shadowing an installed module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in COLAB_MODULES or fullname == "google":
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        if spec.name == "google":
            module = types.ModuleType("google")
            module.__path__ = []
            return module
        return _colab_module(spec.name)

    def exec_module(self, module):
        if module.__name__.startswith("google.colab."):
            parent = sys.modules.get("google.colab")
            if parent is not None:
                setattr(parent, module.__name__.rsplit(".", 1)[1], module)


def _first_word(cmd):
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    words = [w for w in words if "=" not in w or w.startswith("-")]
    if words and words[0] in ("python", "python3") and words[1:3] == ["-m", "pip"]:
        return "pip"
    return os.path.basename(words[0]) if words else ""


def _offline(cmd):
    word = _first_word(cmd)
    if word in OFFLINE:
        _note(f"not run while grading (no network, no installs): !{cmd.strip()[:200]}")
        return True
    return False


def _install_ipython_hooks(ip):
    system, getoutput = ip.system, ip.getoutput

    def guarded_system(cmd, *args, **kwargs):
        if not _offline(cmd):
            return system(cmd, *args, **kwargs)
        return None

    def guarded_getoutput(cmd, *args, **kwargs):
        if _offline(cmd):
            from IPython.utils.text import SList

            return SList([])
        return getoutput(cmd, *args, **kwargs)

    ip.system = guarded_system
    ip.getoutput = guarded_getoutput
    original_cd = ip.find_line_magic("cd")

    def cd(line):
        target = os.path.expanduser(line.strip().strip("'\""))
        if target and not target.startswith("-") and not os.path.isdir(target):
            _note(f"%cd {target}: not available while grading; staying in the working "
                  "directory with your files")
            os.chdir(os.path.expanduser("~"))
            return None
        return original_cd(line) if original_cd else os.chdir(target or "~")

    for magic in ("pip", "conda"):
        ip.register_magic_function(
            lambda line, _m=magic: _note(f"%{_m} {line.strip()[:200]}: not run while "
                                          "grading (no network, no installs)"),
            "line", magic)
    ip.register_magic_function(cd, "line", "cd")


_PRISTINE = {}  # type: ignore[var-annotated]


# the shell methods ipykernel goes through to run a cell: replacing any of them (on the
# instance or the class) could rewrite or skip the grader's code
_SHELL_METHODS = ("run_cell", "run_cell_async", "should_run_async", "transform_cell",
                  "run_ast_nodes", "run_code")


def _remember(ip):
    """The kernel's hooks as IPython set them up, before any student code ran."""
    import builtins

    _PRISTINE["cleanup"] = list(ip.input_transformers_cleanup)
    _PRISTINE["post"] = list(ip.input_transformers_post)
    _PRISTINE["ast"] = list(ip.ast_transformers)
    _PRISTINE["methods"] = {name: getattr(type(ip), name, None) for name in _SHELL_METHODS}
    # the interpreter's own functions and types only: IPython adds and removes its
    # helpers (get_ipython, exit, display) around every cell
    _PRISTINE["builtins"] = {k: v for k, v in vars(builtins).items()
                             if isinstance(v, type | types.BuiltinFunctionType)}
    _PRISTINE["library"] = _library()


# Library functions the probe itself calls to report: a notebook that replaces one (say
# ``numpy.save`` in a later cell) would otherwise change what an earlier answer reports.
_LIBRARY = (("numpy", ("save", "load", "asarray", "ascontiguousarray", "isfinite")),
            ("IPython.display", ("display",)), ("json", ("dumps", "loads")),
            ("base64", ("b64encode", "b64decode")), ("io", ("BytesIO",)))


def _library():
    found = {}
    for module_name, names in _LIBRARY:
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
        for name in names:
            if hasattr(module, name):
                found[(module_name, name)] = (module, getattr(module, name))
    return found


def disarm(ip, nonce):
    """Undo what a notebook did to the kernel's own machinery (input and AST
    transformers, a patched run_cell, trace hooks, patched builtins) before the grader's
    code runs. Returns the nonce and what had been changed."""
    import builtins

    changed = []
    if _PRISTINE:
        if list(ip.input_transformers_cleanup) != _PRISTINE["cleanup"]:
            changed.append("input transformers")
            ip.input_transformers_cleanup[:] = _PRISTINE["cleanup"]
        if list(ip.input_transformers_post) != _PRISTINE["post"]:
            changed.append("input transformers")
            ip.input_transformers_post[:] = _PRISTINE["post"]
        if list(ip.ast_transformers) != _PRISTINE["ast"]:
            changed.append("AST transformers")
            ip.ast_transformers[:] = _PRISTINE["ast"]
        for name, original in _PRISTINE["methods"].items():
            if original is None:
                continue
            if name in ip.__dict__ or getattr(type(ip), name, None) is not original:
                changed.append(name)
                ip.__dict__.pop(name, None)
                setattr(type(ip), name, original)
        current = vars(builtins)
        for name, original in _PRISTINE["builtins"].items():
            if current.get(name, _PRISTINE) is not original:
                changed.append(f"builtins.{name}")
                current[name] = original
        for (module_name, name), (module, original) in _PRISTINE["library"].items():
            if sys.modules.get(module_name) is not module:
                changed.append(module_name)
                sys.modules[module_name] = module
            if getattr(module, name, None) is not original:
                changed.append(f"{module_name}.{name}")
                setattr(module, name, original)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        changed.append("trace hooks")
        sys.settrace(None)
        sys.setprofile(None)
    return nonce + ":" + ",".join(dict.fromkeys(changed))


def install():
    if not any(isinstance(f, _ColabFinder) for f in sys.meta_path):
        sys.meta_path.append(_ColabFinder())
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        _install_ipython_hooks(ip)
        _remember(ip)
