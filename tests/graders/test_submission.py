"""Uploads become the notebook we execute, or a clear reason why not."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest

from graders.errors import SubmissionFormatError
from graders.pipeline.intake import load_submission, split_module
from tests.conftest import make_notebook


def test_outputs_and_counts_are_stripped():
    nb = nbformat.reads(make_notebook("print(1)"), as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="fake\n")]
    nb.cells[0].execution_count = 7
    loaded = load_submission(nbformat.writes(nb).encode(), "hw.ipynb")
    assert loaded.notebook.cells[0].outputs == []
    assert loaded.notebook.cells[0].execution_count is None


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "hw.ipynb", "empty"),
    (b"{oops", "hw.ipynb", "not valid JSON"),
    (b'{"a": 1}', "hw.ipynb", "no list of cells"),
    (b"print(1)", "hw.txt", "expected a Jupyter notebook"),
    (b"\xff\xfe", "hw.py", "not UTF-8"),
])
def test_bad_uploads_get_a_sentence_a_student_understands(data, name, message):
    with pytest.raises(SubmissionFormatError, match=message):
        load_submission(data, name)


def test_a_non_python_kernel_is_refused():
    nb = json.loads(make_notebook("x <- 1"))
    nb["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    with pytest.raises(SubmissionFormatError, match="only Python notebooks"):
        load_submission(json.dumps(nb).encode(), "hw.ipynb")


def test_modules_split_at_top_level_statements():
    chunks = split_module("import numpy as np\n\n@decorator\ndef f():\n    return 1\n\nx = f()\n")
    assert chunks == ["import numpy as np", "@decorator\ndef f():\n    return 1", "x = f()"]


def test_modules_split_at_cell_markers():
    assert split_module("# %%\na = 1\n# %% next\nb = 2\n") == ["a = 1", "b = 2"]


def test_a_module_with_a_syntax_error_keeps_its_other_blocks():
    chunks = split_module("def f():\n    return 1\n\ndef g(:\n    pass\n\nh = 3\n")
    assert chunks[0].startswith("def f") and chunks[-1] == "h = 3" and len(chunks) == 3


def test_a_notebook_nested_thousands_deep_is_a_clear_error_not_a_crash():
    deep = b'{"cells": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    with pytest.raises(SubmissionFormatError, match="nested far deeper"):
        load_submission(deep, "deep.ipynb")
    shallow_but_wide = b'{"cells": [], "metadata": {"x": ' + b"[" * 80 + b"]" * 80 + b"}}"
    with pytest.raises(SubmissionFormatError, match="nested far deeper"):
        load_submission(shallow_but_wide, "deep.ipynb")


def test_hostile_json_a_parser_refuses_late_is_a_clear_error_at_upload():
    huge = b'{"nbformat": 4, "cells": [], "metadata": {"n": ' + b"9" * 5000 + b"}}"
    with pytest.raises(SubmissionFormatError, match="could not be read"):
        load_submission(huge, "huge.ipynb")
    # a lone surrogate, escaped in JSON: valid JSON, but no kernel can take the text
    lone = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "x = '\\ud800'".replace("\\\\", "\\"),
         "metadata": {}, "outputs": [], "execution_count": None}]}).encode()
    lone = lone.replace(b"\\\\ud800", b"\\ud800")
    with pytest.raises(SubmissionFormatError, match="not valid Unicode"):
        load_submission(lone, "lone.ipynb")


def test_a_notebook_read_without_schema_validation_keeps_only_kinds_and_sources():
    raw = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": "odd"},
           "cells": [{"cell_type": "code", "source": ["a = 1\n", "b = 2"], "outputs": [
               {"output_type": "stream", "text": "FAKE"}], "execution_count": 9},
                     {"cell_type": "markdown", "source": "# Title"},
                     {"cell_type": "weird", "source": "z"}]}
    nb = load_submission(json.dumps(raw).encode(), "nb.ipynb").notebook
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        ("code", "a = 1\nb = 2"), ("markdown", "# Title"), ("raw", "z")]
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    nbformat.validate(nb)  # what we execute is a valid notebook


def test_a_hash_the_caller_already_has_is_not_computed_again(monkeypatch):
    # the worker reads the bytes from storage verified against their name
    import graders.pipeline.intake as intake

    data = make_notebook("x = 1")
    known = hashlib.sha256(data).hexdigest()

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(intake.hashlib, "sha256", no_hashing)
    assert load_submission(data, "hw.ipynb", sha256=known).sha256 == known
    with pytest.raises(AssertionError, match="hashed again"):
        load_submission(data, "hw.ipynb")


def test_a_module_split_into_too_many_cells_is_refused():
    text = "\n\n".join(f"# %%\nx{i} = {i}" for i in range(2_001))
    with pytest.raises(SubmissionFormatError, match="at most 2,000 are graded"):
        load_submission(text.encode(), "hw.py")
