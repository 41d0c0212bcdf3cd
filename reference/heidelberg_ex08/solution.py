"""Heidelberg ML exercise sheet 08: the reference's values.

Exercise 1 is a worked reverse-mode trace of
y(x) = (sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2)) at x = (1.5, 0.5), in the
numbering of the lecture's table (Baydin et al. 2018, table 3): v_-1 = x1, v_0 = x2, then
one elementary operation per intermediate. The trained networks of exercises 2 and 3 are
answered by running ``solution_notebook.py``.
"""

from __future__ import annotations

import math

X1, X2 = 1.5, 0.5


def forward_trace(x1: float = X1, x2: float = X2) -> dict[str, float]:
    v1 = x1 / x2
    v2 = math.sin(v1)
    v3 = math.exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    v6 = v5 * v4
    return {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6}


def reverse_trace(x1: float = X1, x2: float = X2) -> dict[str, float]:
    """The adjoints, from v6_bar = 1 back to x1_bar = dy/dx1 and x2_bar = dy/dx2."""
    v = forward_trace(x1, x2)
    v6_bar = 1.0
    v5_bar = v6_bar * v["v4"]
    v4_bar = v6_bar * v["v5"] + v5_bar
    v2_bar = v5_bar
    v3_bar = -v4_bar
    v1_bar = v4_bar + v2_bar * math.cos(v["v1"])
    x2_bar = v3_bar * math.exp(x2) - v1_bar * x1 / x2**2
    x1_bar = v1_bar / x2
    return {"v5_bar": v5_bar, "v4_bar": v4_bar, "v3_bar": v3_bar, "v2_bar": v2_bar,
            "v1_bar": v1_bar, "x1_bar": x1_bar, "x2_bar": x2_bar}


# the answers the spec names, computed once from the traces above
_FORWARD, _REVERSE = forward_trace(), reverse_trace()
v1, v2, v3, v4, v5 = (_FORWARD[k] for k in ("v1", "v2", "v3", "v4", "v5"))
y = _FORWARD["v6"]
dy_dx1, dy_dx2 = _REVERSE["x1_bar"], _REVERSE["x2_bar"]
# steps of the reverse trace no forward value shares (v5_bar is v4, v2_bar v5_bar)
v4_bar, v3_bar = _REVERSE["v4_bar"], _REVERSE["v3_bar"]


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M")  # table 2, column D, of Simonyan and Zisserman


def mlp_parameters() -> int:
    """784-512-256-10 with biases."""
    return 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
