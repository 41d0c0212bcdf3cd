"""The check kinds, one module each, and the registry the pipeline asks.

Nothing outside this package branches on a check's class: ``kind_of(check)`` gives its
``CheckKind`` (label, kernel request, validation, scorer, what it needs), and a spec
class without a kind is a configuration error when the assignment is loaded.
"""

from __future__ import annotations

from typing import Any

from graders.checks.architecture import ARCHITECTURE
from graders.checks.base import CheckKind, Evidence, Planning, Request
from graders.checks.calls import CALLS
from graders.checks.function import FUNCTION, GRADIENT, STABILITY
from graders.checks.loader import LOADER
from graders.checks.model_accuracy import MODEL_ACCURACY
from graders.checks.no_loops import NO_LOOPS
from graders.checks.op import OP
from graders.checks.optimizer import OPTIMIZER
from graders.checks.param_count import PARAM_COUNT
from graders.checks.plot import PLOT
from graders.checks.pretrained import PRETRAINED
from graders.checks.reported_accuracy import REPORTED_ACCURACY
from graders.checks.saved_model import SAVED_MODEL
from graders.checks.transform import TRANSFORM
from graders.checks.value import VALUE
from graders.errors import SpecError

KINDS: tuple[CheckKind[Any], ...] = (
    FUNCTION, GRADIENT, STABILITY, NO_LOOPS, VALUE, OP, MODEL_ACCURACY, ARCHITECTURE,
    SAVED_MODEL, REPORTED_ACCURACY, PRETRAINED, LOADER, TRANSFORM, PARAM_COUNT, PLOT,
    OPTIMIZER, CALLS,
)
REGISTRY: dict[type, CheckKind[Any]] = {kind.spec: kind for kind in KINDS}


def kind_of(check: object) -> CheckKind[Any]:
    """The kind of ``check``: by its exact class (a subclass is a kind of its own)."""
    try:
        return REGISTRY[type(check)]
    except KeyError:
        raise SpecError(f"{type(check).__name__} is not a known check kind (known: "
                        f"{', '.join(sorted(k.spec.__name__ for k in KINDS))})") from None


__all__ = ["KINDS", "REGISTRY", "CheckKind", "Evidence", "Planning", "Request", "kind_of"]
