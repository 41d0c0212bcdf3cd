"""Bundled assignments: one folder each, holding spec.py and solution.py (trusted code)."""
