"""What the trained-model kinds share: reading the model probe's answer, and the one
"evaluate" request whose body several kinds ask for (equal bodies are one request, so
one evaluation of the models serves the accuracy and the architecture questions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from graders.checks.base import Evidence, Request
from graders.hidden import hidden_file
from graders.protocol import ModelRequestKind
from graders.scoring.function import CheckScore, Fault
from graders.scoring.models.context import _payload
from graders.spec import HiddenSet, Transform

C = TypeVar("C")


def from_payload(scorer: Callable[[C, Evidence, dict[str, Any]], CheckScore]
                 ) -> Callable[[C, Evidence], CheckScore]:
    def score(check: C, ev: Evidence) -> CheckScore:
        payload, failure = _payload(ev.record)
        if failure is not None:
            return failure
        if not isinstance(payload, dict):
            return CheckScore(0.0, ["the model probe's answer was unreadable"], Fault.ERRORED)
        return scorer(check, ev, payload)

    return score


def describe_models(*, saved: bool, public: bool, pretrained: bool = False,
                    forward: tuple[int, ...] | None = None,
                    data: HiddenSet | None = None,
                    fallback: tuple[Transform, ...] = ()) -> Request:
    """Find and describe the notebook's models: ``public`` also measures them on the
    notebook's own test loader; ``forward`` runs each on a small batch of inputs of that
    shape; ``data`` also predicts grader-held images (``fallback``: their transform where
    the notebook has none)."""
    body: dict[str, Any] = {"kind": ModelRequestKind.EVALUATE.value,
                            "images": hidden_file(data) if data is not None else None,
                            "saved": saved, "memory": True, "public": public}
    if pretrained:
        body["pretrained"] = True
    if forward is not None:
        body["forward"] = list(forward)
    body["fallback_transform"] = [t.wire() for t in fallback] if fallback else [["ToTensor"]]
    return body, data


def loaders() -> Request:
    return {"kind": ModelRequestKind.LOADERS.value}, None
