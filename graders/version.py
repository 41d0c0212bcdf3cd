"""The engine's version, recorded in every report (bump when scoring changes)."""

ENGINE_VERSION = "0.2.0"
