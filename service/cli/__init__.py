"""The ``autograder`` command: one module per noun (grading, running, admin, client),
all registering on one Typer application, in the order ``--help`` lists them."""

from service.cli import grading, running  # noqa: I001, F401  (they register commands)
from service.cli import admin, client  # noqa: F401
from service.cli.app import app

__all__ = ["app"]
