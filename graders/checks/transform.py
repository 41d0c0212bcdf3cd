"""The datasets' transforms (normalisation, a fixed permutation as the last step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.checks import _controls as ctl
from graders.checks._model import from_payload, loaders
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.loaders import score_transform
from graders.spec import TransformCheck

FIXED = np.random.default_rng(42).permutation(784)
OTHER = np.random.default_rng(43).permutation(784)


def tried(step: Callable[[np.ndarray, int], np.ndarray]) -> dict[str, np.ndarray]:
    """What the kernel sends for a last step: its outputs for the ramp image (twice) and
    for numpy's noise seeded 0, flattened (``i`` counts the calls, as a step that draws
    anew each call sees them)."""
    ramp, noise = np.arange(784) / 784, np.random.default_rng(0).random(784)
    return {"first": step(ramp, 0), "second": step(ramp, 1), "moved": step(noise, 2)}


NORMALISED = TransformCheck(points=3, last="Normalize")
PERMUTED = TransformCheck(points=3, last="RandomPermutation", permutes=True)


def controls() -> list[Control[TransformCheck]]:
    question = ctl.question_for(NORMALISED)

    def control(name: str, steps: list[str], credit: float, check: TransformCheck = NORMALISED,
                last_step: Any = None, *, loader: bool = True,
                before_last: Any = None) -> Control[TransformCheck]:
        found = [{"name": label, "is_loader": batch is not None, "batch_size": batch,
                  "length": length, "base": "MNIST", "train": train, "transforms": steps,
                  "last_step": last_step,
                  **({"before_last": before_last} if before_last is not None else {})}
                 for label, batch, length, train in (("train_set", None, 60000, True),
                                                    ("train_loader", 64, 60000, True))
                 if loader or batch is None]
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=ctl.answered({"loaders": found}, "loaders")),
            credit)

    def permuted(name: str, last: str, measured: Any, credit: float, *,
                 loader: bool = True) -> Control[TransformCheck]:
        return control(name, ["ToTensor", last], credit, PERMUTED, measured, loader=loader)

    def split(name: str, steps: dict[str, Any], credit: float) -> Control[TransformCheck]:
        found = [{"name": label, "is_loader": True, "batch_size": 64, "length": length,
                  "base": "KMNIST", "train": train,
                  "transforms": ["ToTensor", "RandomPermutation" if label in steps else
                                 "Normalize"], "last_step": steps.get(label, "none")}
                 for label, length, train in (("train_loader", 60000, True),
                                              ("test_loader", 10000, False))]
        return Control(name, PERMUTED, ctl.evidence(
            question, records=ctl.answered({"loaders": found}, "loaders")), credit)

    return [
        control("ToTensor, then Normalize", ["ToTensor", "Normalize"], 1.0),
        control("ToTensor alone: no normalisation", ["ToTensor"], 0.0),
        # Normalize needs a tensor: before ToTensor it is not the pipeline's last step
        control("Normalize before ToTensor", ["Normalize", "ToTensor"], 0.0),
        # a permutation is judged by what the step does, not by its class's name
        permuted("the handout's RandomPermutation, one permutation for all images",
                 "RandomPermutation", tried(lambda x, i: x[FIXED]), 1.0),
        permuted("a Lambda indexing with one fixed permutation", "Lambda",
                 tried(lambda x, i: x[FIXED]), 1.0),
        # the permuted dataset is only looked at: training used the plain loader
        permuted("the permuted dataset never served by a DataLoader", "RandomPermutation",
                 tried(lambda x, i: x[FIXED]), 0.0, loader=False),
        permuted("a class named RandomPermutation drawing a new permutation per image",
                 "RandomPermutation",
                 tried(lambda x, i: x[np.random.default_rng(i + 1).permutation(x.size)]), 0.0),
        permuted("a class named RandomPermutation that returns the image unchanged",
                 "RandomPermutation", tried(lambda x, i: x), 0.0),
        permuted("a class named RandomPermutation that adds noise (not a permutation)",
                 "RandomPermutation", tried(lambda x, i: x + 0.01 * (i + 1)), 0.0),
        permuted("a step that sorts the pixels (a ramp stays, other images do not)",
                 "RandomPermutation", tried(lambda x, i: np.sort(x)), 0.0),
        permuted("no permutation: the last step is Normalize", "Normalize", "none", 0.0),
        # Normalize of one channel maps every pixel alike: after a permutation the images
        # are still permuted, only not in the order the handout gives
        control("the permutation, then a per-pixel Normalize",
                ["ToTensor", "RandomPermutation", "Normalize"], 0.75, PERMUTED,
                tried(lambda x, i: (x - 0.5) / 0.25),
                before_last=tried(lambda x, i: x[FIXED])),
        control("a per-pixel Normalize after a step that permutes each image anew",
                ["ToTensor", "RandomPermutation", "Normalize"], 0.0, PERMUTED,
                tried(lambda x, i: (x - 0.5) / 0.25), before_last=tried(
                    lambda x, i: x[np.random.default_rng(i + 1).permutation(x.size)])),
        control("a step after the permutation that maps pixels by their position",
                ["ToTensor", "RandomPermutation", "Lambda"], 0.0, PERMUTED,
                tried(lambda x, i: x * np.linspace(1, 2, x.size)),
                before_last=tried(lambda x, i: x[FIXED])),
        # a fixed rearrangement that keeps the image's structure is no random permutation
        permuted("a fixed transpose of every image", "RandomPermutation",
                 tried(lambda x, i: x.reshape(28, 28).T.reshape(-1)), 0.0),
        permuted("a fixed left-right flip of every image", "Lambda",
                 tried(lambda x, i: x.reshape(28, 28)[:, ::-1].reshape(-1)), 0.0),
        permuted("a fixed roll of the pixels by 5", "Lambda",
                 tried(lambda x, i: np.roll(x, 5)), 0.0),
        permuted("the rows shuffled whole, each row's pixels kept in order",
                 "RandomPermutation", tried(lambda x, i: x.reshape(28, 28)[
                     np.random.default_rng(5).permutation(28)].reshape(-1)), 0.0),
        # the kernel shares its interpreter with the notebook: a word is no measurement
        permuted("the kernel's answer says 'fixed' without the pixels to show it",
                 "RandomPermutation", "fixed", 0.0),
        permuted("pixels that are no permutation of the grader's ramp", "RandomPermutation",
                 {"first": np.full(784, 0.5), "second": np.full(784, 0.5),
                  "moved": np.full(784, 0.5)}, 0.0),
        # the training data must be permuted, and the test data the same way
        split("only the test loader permuted", {"test_loader": tried(lambda x, i: x[FIXED])},
              1 / 3),
        split("train and test loaders each with a permutation of its own",
              {"train_loader": tried(lambda x, i: x[FIXED]),
               "test_loader": tried(lambda x, i: x[OTHER])}, 0.5),
        split("train and test loaders sharing one permutation",
              {"train_loader": tried(lambda x, i: x[FIXED]),
               "test_loader": tried(lambda x, i: x[FIXED])}, 1.0),
        Control("describing the datasets timed out", NORMALISED, ctl.evidence(
            question, records=ctl.failed(CallStatus.TIMEOUT, "did not finish within 600 s",
                                         "loaders")), 0.0, Fault.TIMED_OUT),
    ]


TRANSFORM = CheckKind(
    spec=TransformCheck, name="transform", label=lambda c: "transform",
    score=from_payload(lambda c, _ev, p: score_transform(c, p)),
    request=lambda c, _: loaders(), needs_data=True, grades_models=True, controls=controls,
    kernel="probe_torch")
