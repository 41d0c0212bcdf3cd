"""The grading engine: sandboxed execution, probes, comparisons and reports.

Nothing here knows about HTTP or SQL; ``service`` builds on it.
"""

ENGINE_VERSION = "0.1.0"
