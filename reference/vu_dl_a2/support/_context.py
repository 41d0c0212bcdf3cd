"""``from _context import vugrad``: the repository root on the path, then the library."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))

import vugrad  # noqa: F401
