"""The service's own errors (the engine's are in graders.errors)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""
