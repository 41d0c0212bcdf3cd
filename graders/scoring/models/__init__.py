"""Trained-model scorers, split by noun (accuracy, architecture, loaders, static); each
check kind in ``graders.checks`` names the one it uses. Labels and reference accuracies
stay here, on the trusted side."""

from graders.scoring.models.context import ModelContext

__all__ = ["ModelContext"]
