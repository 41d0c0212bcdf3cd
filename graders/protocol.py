"""The typed messages between the trusted side and the probe code in the kernel.

The plan goes in (written by the trusted side as ``plan.json``); messages come out as
``display_data`` tagged with ``boundary.MIME``. Every message that comes back is hostile
input: it is validated against ``KernelMessage`` (a union discriminated on ``kind``, with
bounded strings) and dropped when it does not fit. Nothing else is trusted about it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from graders.results import CallStatus, Candidate

MAX_CANDIDATES = 64


def _bounded(limit: int) -> BeforeValidator:
    # Long strings are cut rather than refused: a student's exception message may be long.
    return BeforeValidator(lambda v: str(v)[:limit] if v is not None else v)


Name = Annotated[str, _bounded(200)]
ErrorText = Annotated[str | None, _bounded(2000)]


class ModelRequestKind(StrEnum):
    """What a trained-model request asks the kernel for."""

    EVALUATE = "evaluate"  # describe the models found, predict on hidden images
    LOADERS = "loaders"  # describe the notebook's DataLoaders and transforms
    PARAM_COUNT = "param_count"  # run the notebook's parameter-count function
    VALUES = "values"  # the variables and cell results that value answers read
    OPS = "ops"  # run autograd ops forward and backward (a course library's Op classes)
    OPTIMIZERS = "optimizers"  # the optimizers that stepped, and how often with gradients
    FIGURES = "figures"  # what each figure the notebook showed plots (lines' y-ranges)


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    nonce: Name


class CandidatesMessage(_Message):
    kind: Literal["candidates"]
    candidates: Annotated[list[Candidate], Field(max_length=MAX_CANDIDATES)]


class StartMessage(_Message):
    """Sent before each call, so a call that kills the kernel is known afterwards."""

    kind: Literal["start"]
    call_id: Name
    symbol: Name
    candidate: int


class ResultMessage(_Message):
    kind: Literal["result"]
    call_id: Name
    symbol: Name
    candidate: int
    status: CallStatus
    value: Any = None  # the wire tree (graders.scoring.values); decoded when scoring
    error: ErrorText = None
    duration_s: float = 0.0


KernelMessage = Annotated[CandidatesMessage | StartMessage | ResultMessage,
                          Field(discriminator="kind")]
MESSAGE_ADAPTER: TypeAdapter[CandidatesMessage | StartMessage | ResultMessage] = (
    TypeAdapter(KernelMessage))


def parse_message(payload: object) -> CandidatesMessage | StartMessage | ResultMessage | None:
    """One message from the kernel, or None when it does not fit the protocol."""
    try:
        return MESSAGE_ADAPTER.validate_python(payload)
    except ValueError:
        return None


class PlannedCallWire(BaseModel):
    """One function call of the plan, with arguments in the input wire format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    symbol: str
    timeout_s: float
    args: list[Any]


class ProbePlan(BaseModel):
    """What the probe code in the kernel reads from ``plan.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: list[str]
    models: list[dict[str, Any]]
    max_output_bytes: int
    calls: list[PlannedCallWire]
