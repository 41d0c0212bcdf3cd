"""The datasets' transforms (normalisation, a fixed permutation as the last step)."""

from __future__ import annotations

from graders.checks import _controls as ctl
from graders.checks._model import from_payload, loaders
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.loaders import score_transform
from graders.spec import TransformCheck

NORMALISED = TransformCheck(points=3, last="Normalize")


def controls() -> list[Control[TransformCheck]]:
    question = ctl.question_for(NORMALISED)

    def control(name: str, steps: list[str], credit: float) -> Control[TransformCheck]:
        found = [{"name": loader, "is_loader": batch is not None, "batch_size": batch,
                  "length": length, "base": "MNIST", "train": train, "transforms": steps}
                 for loader, batch, length, train in (("train_set", None, 60000, True),
                                                    ("train_loader", 64, 60000, True))]
        return Control(name, NORMALISED, ctl.evidence(
            question, records=ctl.answered({"loaders": found}, "loaders")), credit)

    return [
        control("ToTensor, then Normalize", ["ToTensor", "Normalize"], 1.0),
        control("ToTensor alone: no normalisation", ["ToTensor"], 0.0),
        # Normalize needs a tensor: before ToTensor it is not the pipeline's last step
        control("Normalize before ToTensor", ["Normalize", "ToTensor"], 0.0),
        Control("describing the datasets timed out", NORMALISED, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s",
                                         "loaders")), 0.0, Fault.TIMED_OUT),
    ]


TRANSFORM = CheckKind(
    spec=TransformCheck, name="transform", label=lambda c: "transform",
    score=from_payload(lambda c, _ev, p: score_transform(c, p)),
    request=lambda c, _: loaders(), needs_data=True, grades_models=True, controls=controls,
    kernel="probe_torch")
