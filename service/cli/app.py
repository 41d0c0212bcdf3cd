"""The ``autograder`` command's application and consoles, shared by its command modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    pass
app = typer.Typer(help="ml-autograder: grade machine-learning homework in a sandbox.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

# outcome -> colour, by the outcome's value (the engine is imported only when used)
_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "errored": "red",
          "timed_out": "red", "missing": "red", "manual": "cyan"}


