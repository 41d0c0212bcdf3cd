"""The HTTP API: its routes, dependencies and middleware."""

API = "/api/v1"  # every route of the API is under it
