"""The notebook's DataLoaders: splits, sizes, batch sizes, the dataset. Not shuffling:
the kernel does not report it (``describe_loaders``), so a training loader without
``shuffle=True`` is not told apart."""

from __future__ import annotations

from typing import Any

from graders.checks import _controls as ctl
from graders.checks._model import from_payload, loaders
from graders.checks.base import CheckKind, Control
from graders.results import CallStatus
from graders.scoring.function import Fault
from graders.scoring.models.loaders import score_loaders
from graders.scoring.models.test_data import resized_loaders, trained_loaders
from graders.spec import LoaderCheck, LoaderSplit

SPLITS = LoaderCheck(points=4, batch_size=4, splits=(
    LoaderSplit("training", 9000, train=True), LoaderSplit("test", 3000, train=False)))
BATCH_ONLY = LoaderCheck(points=1, splits=(), batch_size=100, dataset="MNIST")
CLASSES = LoaderCheck(points=4, batch_size=4, splits=(
    LoaderSplit("training", 9000, train=True, label_counts=((3, 3000), (5, 3000), (8, 3000))),
    LoaderSplit("test", 3000, train=False, label_counts=((3, 1000), (5, 1000), (8, 1000)))))


def _entry(name: str, length: int, *, train: bool, batch: int | None,
           base: str = "CIFAR10") -> dict[str, Any]:
    """One dataset or loader as ``describe_loaders`` (probe_torch) reports it."""
    return {"name": name, "is_loader": batch is not None, "batch_size": batch,
            "length": length, "base": base, "train": train,
            "transforms": ["ToTensor", "Normalize"],
            "label_counts": {str(k): length // 3 for k in (3, 5, 8)}}


def controls() -> list[Control[LoaderCheck]]:
    """Cats, dogs and ships of CIFAR-10: 9000 training and 3000 test images in batches of
    4; and a check of the MNIST training loader's batch size alone."""

    def control(name: str, check: LoaderCheck, found: list[dict[str, Any]], credit: float,
                fault: Fault | None = None, *, code: str = "") -> Control[LoaderCheck]:
        return Control(name, check, ctl.evidence(
            ctl.question_for(check), records=ctl.answered({"loaders": found}, "loaders"),
            models=ctl.context(cells=ctl.notebook(ctl.code(code))) if code else None),
            credit, fault)

    datasets = [_entry("trainset", 9000, train=True, batch=None),
                _entry("testset", 3000, train=False, batch=None)]

    def loaders_of(batch: int, *, test_train: bool = False) -> list[dict[str, Any]]:
        return [*datasets, _entry("trainloader", 9000, train=True, batch=batch),
                _entry("testloader", 3000, train=test_train, batch=batch)]

    mnist = [_entry("train_loader", 60000, train=True, batch=64, base="MNIST"),
             _entry("test_loader", 10000, train=False, batch=1000, base="MNIST")]
    def classes(ids: tuple[int, ...], per_class: tuple[int, int] = (3000, 1000)
                ) -> list[dict[str, Any]]:
        return [{**_entry(name, n * 3, train=train, batch=4),
                 "label_counts": {str(k): n for k in ids}}
                for name, n, train in (("trainloader", per_class[0], True),
                                       ("testloader", per_class[1], False))]

    def served(found: list[dict[str, Any]], *, largest: int = 4,
               per_class: tuple[int, int] | None = None,
               distinct: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """The loaders with what an epoch of their batch samplers served."""
        out = []
        for entry, side in zip(found, (0, 1), strict=True):
            n = entry["length"] if per_class is None else per_class[side] * 3
            seen = n if distinct is None else distinct[side]
            out.append({**entry, "served": {
                "largest": largest, "indices": n, "distinct": seen,
                "label_counts": {k: seen // 3 for k in entry["label_counts"]}}})
        return out

    # each split is a part of the credit, and the batch size one more
    return [
        control("cat, dog and ship, as CIFAR-10 numbers them", CLASSES, classes((3, 5, 8)),
                1.0),
        control("cat, dog and ship renumbered 0, 1, 2", CLASSES, classes((0, 1, 2)), 1.0),
        # the right sizes, but trucks (9) where ships (8) are asked
        control("cat, dog and truck in the right numbers", CLASSES, classes((3, 5, 9)),
                1 / 3),
        # the batch size is a part of its own
        control("2500/500 per class in batches of 4", CLASSES,
                classes((3, 5, 8), (2500, 500)), 1 / 3),
        control("both splits in batches of 4", SPLITS, loaders_of(4), 1.0),
        control("batches of 64 where 4 are asked", SPLITS, loaders_of(64), 2 / 3),
        control("the test loader drawn from the training data", SPLITS,
                loaders_of(4, test_train=True), 2 / 3),
        # what one epoch of the batch sampler served (the kernel walks it) beats what the
        # loader declares: a sampler of the notebook's own may say 4 and serve 16
        control("a sampler declaring batches of 4 that serves 16", CLASSES, served(
            classes((3, 5, 8)), largest=16), 2 / 3),
        control("a sampler serving 1500 of each class's 3000", CLASSES, served(
            classes((3, 5, 8)), per_class=(1500, 500)), 1 / 3),
        control("a shuffled sampler serving every sample once", CLASSES,
                served(classes((3, 5, 8))), 1.0),
        control("a sampler drawing an epoch's worth with replacement", CLASSES, served(
            classes((3, 5, 8)), distinct=(5700, 1900)), 1.0),
        control("datasets without DataLoaders", SPLITS, datasets, 0.0),
        control("MNIST training batches of 64 where 100 are asked", BATCH_ONLY, mnist, 0.0),
        # a loader of the handout's batch size built beside the one training iterates
        control("a loader of 100 built, training drawing from one of 32", BATCH_ONLY, [
            _entry("train_loader", 60000, train=True, batch=100, base="MNIST"),
            _entry("small_loader", 60000, train=True, batch=32, base="MNIST")], 0.0,
            code="for x, y in small_loader:\n    opt.zero_grad()\n"
                 "    loss_fn(net(x), y).backward()\n    opt.step()\n"),
        # built for batches of 32, trained, then told it batches 4 "as the handout asks"
        control("a loader built for 32, its batch size set to 4 after training", CLASSES,
                classes((3, 5, 8)), 2 / 3,
                code="trainloader = DataLoader(trainset, batch_size=32, shuffle=True)\n"
                     "testloader = DataLoader(testset, batch_size=4)\n"
                     "trainloader.batch_sampler.batch_size = 4\n"),
        control("a loader built for 4, its batch size set to 4 again", CLASSES,
                classes((3, 5, 8)), 1.0,
                code="trainloader = DataLoader(trainset, batch_size=4, shuffle=True)\n"
                     "testloader = DataLoader(testset, 4)\ntrainloader.batch_size = 4\n"),
        control("a loader of 100 that training iterates, beside one of 32", BATCH_ONLY, [
            _entry("train_loader", 60000, train=True, batch=100, base="MNIST"),
            _entry("small_loader", 60000, train=True, batch=32, base="MNIST")], 1.0,
            code="def fit(model, loader):\n    for x, y in loader:\n        opt.zero_grad()\n"
                 "        loss_fn(model(x), y).backward()\n        opt.step()\n"
                 "fit(net, train_loader)\n"),
        control("no MNIST DataLoader at all", BATCH_ONLY, loaders_of(100), 0.0, Fault.MISSING),
        Control("describing the loaders raised", SPLITS, ctl.evidence(
            ctl.question_for(SPLITS), records=ctl.failed(
                CallStatus.ERROR, "TypeError: object of type 'IterableDataset' has no len()",
                "loaders")), 0.0, Fault.ERRORED),
    ]


LOADER = CheckKind(
    spec=LoaderCheck, name="loader", label=lambda c: "loader",
    score=from_payload(lambda c, ev, p: score_loaders(c, p, trained_loaders(
        ev.context().cells), resized_loaders(ev.context().cells))),
    request=lambda c, _: loaders(), needs_data=True, grades_models=True, controls=controls,
    kernel="probe_torch")
