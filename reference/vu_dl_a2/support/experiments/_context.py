"""``from _context import vugrad`` in a script under experiments/."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import vugrad  # noqa: F401
