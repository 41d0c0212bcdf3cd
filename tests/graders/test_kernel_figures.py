"""The kernel's figure witness, run in a real IPython shell with matplotlib's inline
backend: every figure the notebook shows is summarised (each line's y-range, by the cell
that showed it), and the host reads a flat line as no curve. The judging is in
tests/graders/test_kind_controls.py (the plot kind's controls)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import graders.kernel
from graders.boundary import __file__ as BOUNDARY_FILE
from graders.scoring.models.figures import Plotted, plotted

KERNEL = Path(graders.kernel.__file__).parent


def _module(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    sys.modules[name] = module
    return module


@pytest.fixture()
def shell() -> Iterator[tuple[InteractiveShell, types.ModuleType]]:
    ip = InteractiveShell.instance()
    _module("_autograder_boundary", Path(BOUNDARY_FILE))
    probe = _module("_autograder_probe", KERNEL / "probe.py")
    probe.watch_figures()
    # the inline backend, as ``%matplotlib inline`` selects it in a kernel
    assert ip.run_cell("import matplotlib\n"
                       "matplotlib.use('module://matplotlib_inline.backend_inline')\n"
                       "import matplotlib.pyplot as plt\nplt.close('all')").success
    probe.snapshot({}, [], 0)
    yield ip, probe
    import matplotlib.pyplot as plt

    plt.close("all")
    plt.switch_backend("Agg")  # the session's other tests draw without a kernel
    ip.display_formatter.__dict__.pop("format", None)
    for name in ("_autograder_boundary", "_autograder_probe", probe.FIGURES):
        sys.modules.pop(name, None)
    InteractiveShell.clear_instance()


def _run(ip: InteractiveShell, probe: types.ModuleType, cell: int, source: str) -> None:
    assert ip.run_cell(source).success
    probe.snapshot({}, [], cell)


def test_each_figure_shown_is_summarised_by_the_cell_that_showed_it(shell):
    ip, probe = shell
    # the learning rate drawn per step, labelled as a loss: two flat lines
    _run(ip, probe, 1, "plt.figure(); plt.plot([0.01] * 25, label='sgd')\n"
                       "plt.plot([1.0] * 25); plt.ylabel('loss'); plt.show()")
    # a falling curve in one panel, a picture in the other, shown as the cell's value
    _run(ip, probe, 2, "fig, (a, b) = plt.subplots(1, 2)\na.plot([2.3, 1.1, 0.4])\n"
                       "b.imshow([[0, 1], [1, 0]])\nfig")
    _run(ip, probe, 3, "plt.close('all'); plt.figure()\n"
                       "plt.bar(['sgd', 'adam'], [0.9, 0.95]); plt.show()\n"
                       "for h in ([3, 2], [5, 1]):\n    plt.figure(); plt.plot(h); plt.show()")
    # drawn and never shown: nothing to summarise
    _run(ip, probe, 4, "import matplotlib\nmatplotlib.pyplot.close('all')\n"
                       "f = plt.figure(); plt.plot([1, 2]); plt.close(f)")
    figures = probe.figures()
    assert [f["after_cell"] for f in figures] == [0, 1, 2, 2, 2]
    flat = figures[0]["axes"][0]["curves"]
    assert [(c["n"], c["lo"], c["hi"]) for c in flat] == [(25, 0.01, 0.01), (25, 1.0, 1.0)]
    panels = figures[1]["axes"]
    assert panels[0]["curves"][0]["lo"] == 0.4 and panels[1]["images"] == 1
    assert figures[2]["axes"][0]["curves"] == []
    seen = plotted({"figures": figures}, ran=[0, 1, 2, 3, 4])
    assert seen == {1: Plotted(changing=0, flat=(0.01, 1.0)),
                    2: Plotted(changing=1, flat=()), 3: Plotted(changing=2, flat=())}
    assert seen[1].all_flat(1) and not seen[2].all_flat(1)


def test_a_figure_shown_again_in_its_cell_is_summarised_as_it_was_last_shown(shell):
    """A live training plot: the same figure displayed after every epoch."""
    ip, probe = shell
    _run(ip, probe, 1, "from IPython.display import display\nimport numpy as np\n"
                       "fig, ax = plt.subplots(); line, = ax.plot(np.zeros(8))\n"
                       "for epoch in range(3):\n"
                       "    line.set_ydata(np.linspace(2, 0.5, 8) / (epoch + 1))\n"
                       "    display(fig)\nplt.close(fig)")
    [figure] = probe.figures()
    [curve] = figure["axes"][0]["curves"]
    assert (curve["lo"], curve["hi"]) == (0.5 / 3, 2 / 3)
    assert plotted({"figures": [figure]}, ran=[0, 1]) == {1: Plotted(changing=1, flat=())}


def test_only_data_lines_and_scatters_are_summarised_and_a_figure_past_a_cap_says_so(shell):
    ip, probe = shell
    _run(ip, probe, 1, "fig, ax = plt.subplots()\nax.plot([0.01] * 20)\n"
                       "ax.axvline(3)\nax.fill_between(range(20), 0, 1)\n"
                       "ax.scatter(range(20), range(20))\nplt.show()")
    _run(ip, probe, 2, "fig, axes = plt.subplots(4, 4)\n"
                       "for ax in axes.flat:\n    ax.plot([0.01] * 20)\nplt.show()")
    first, second = probe.figures()
    assert [c["kind"] for c in first["axes"][0]["curves"]] == ["line", "points"]
    assert second.get("truncated") is True and len(second["axes"]) == probe.MAX_AXES
    seen = plotted({"figures": [first, second]}, ran=[0, 1, 2])
    assert seen[1] == Plotted(changing=1, flat=(0.01,))  # the scatter changes
    assert not seen[2].complete and not seen[2].all_flat(16)


def test_a_figure_the_probe_shows_belongs_to_no_cell(shell):
    ip, probe = shell
    probe.snapshot({}, [], None)  # the probe's phase begins
    assert ip.run_cell("plt.figure(); plt.plot([1.0] * 20); plt.show()").success
    assert plotted({"figures": probe.figures()}, ran=[0, 1]) == {}


def test_a_notebook_that_replaces_the_display_formatter_only_loses_the_summaries(shell):
    ip, probe = shell
    _run(ip, probe, 1, "ip = get_ipython()\nip.display_formatter.format = "
                       "type(ip.display_formatter).format.__get__(ip.display_formatter)\n"
                       "plt.plot([0.01] * 25); plt.show()")
    assert probe.figures() == []  # nothing said: the code alone decides, as before


def test_a_forged_figure_summary_with_curves_that_are_no_records_is_read_without_them():
    # what the kernel sends is the notebook's to forge: a curve that is not a record (a
    # string, a number) neither counts nor stops the reading
    forged = {"after_cell": 0, "axes": [{"curves": [
        "curve", 5, {"finite": 20, "lo": 0.1, "hi": 2.3}]}]}
    assert plotted({"figures": [forged]}, ran=[0, 1]) == {1: Plotted(changing=1, flat=())}
    assert plotted({"figures": [forged]}, ran=[0, 1])[1].spans == ((20, 0.1, 2.3, None),)


def test_a_curve_spanning_a_typed_in_list_counts_as_typed_only_with_its_sum(shell):
    from graders.results import CellSummary
    from graders.scoring.models.figures import literal_spans

    ip, probe = shell
    history = [2.3, 1.4, 0.9, 0.6, 0.1]
    _run(ip, probe, 1, f"plt.plot({history}); plt.show()")
    # a recorded curve with the same count, lowest and highest, and other points
    _run(ip, probe, 2, "plt.plot([2.3, 1.9, 1.1, 0.4, 0.1]); plt.show()")
    seen = plotted({"figures": probe.figures()}, ran=[1, 2])
    code = CellSummary(index=0, kind="code", source=f"losses = {history}")
    literals = literal_spans([code])
    assert seen[1].typed_in(literals) == 1 and seen[2].typed_in(literals) == 0
