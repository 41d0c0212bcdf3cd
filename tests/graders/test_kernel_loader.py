"""The probe evaluates a student's loader without the notebook's worker processes: those
are paused (SIGSTOP, from the host) before grading, and a persistent worker would never
answer. The kernel module is executed here as plain source, as the kernel does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import graders.kernel
from graders.scoring.models.loaders import last_step


def _probe_torch() -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "probe_torch_under_test"}
    source = Path(graders.kernel.__file__).with_name("probe_torch.py").read_text()
    exec(compile(source, "probe_torch.py", "exec"), namespace)
    return namespace


def test_a_loader_with_persistent_workers_is_read_in_process_in_the_same_order():
    data = TensorDataset(torch.arange(40.0).view(20, 2), torch.arange(20))
    loader = DataLoader(data, batch_size=6, num_workers=2, persistent_workers=True)
    copy = _probe_torch()["_in_process"](loader)  # type: ignore[operator]
    assert copy.num_workers == 0
    assert [y.tolist() for _, y in copy] == [list(range(i, min(i + 6, 20)))
                                              for i in range(0, 20, 6)]


def test_a_loader_without_workers_is_used_as_it_is():
    loader = DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=2)
    assert _probe_torch()["_in_process"](loader) is loader  # type: ignore[operator]


class _Split(torch.utils.data.Dataset):
    """A torchvision-like dataset: ``transform``, ``targets``, ``train``, ``data``."""

    def __init__(self, train: bool) -> None:
        self.train, self.transform = train, (lambda x: x)
        self.targets, self.data = [0, 1] * 5, torch.zeros(10, 28, 28)

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.data[i], self.targets[i]


def test_loaders_kept_in_a_dict_are_found_as_the_transfer_learning_tutorial_keeps_them():
    probe = _probe_torch()
    splits = {x: _Split(x == "train") for x in ("train", "val")}
    namespace = {"image_datasets": splits,
                 "dataloaders": {x: DataLoader(splits[x], batch_size=4) for x in splits}}
    names = [entry["name"] for entry in probe["describe_loaders"](namespace)]  # type: ignore[operator]
    assert "dataloaders['val']" in names and "image_datasets['train']" in names
    assert probe["test_loader"](namespace) is namespace["dataloaders"]["val"]  # type: ignore[operator]


def test_a_large_list_is_not_searched():
    probe = _probe_torch()
    namespace = {"many": [_Split(False)] * 100}
    assert probe["describe_loaders"](namespace) == []  # type: ignore[operator]


class _Permuted(torch.utils.data.Dataset):
    """KMNIST-shaped images through a student's transform, as a torchvision dataset."""

    def __init__(self, transform: object) -> None:
        self.train, self.transform, self.targets = True, transform, [0, 1, 2, 3]

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(torch.rand(1, 28, 28)), self.targets[i]  # type: ignore[operator]


class _HandoutPermutation:
    """The handout's class: one permutation drawn when the transform is created."""

    def __init__(self, num_features: int) -> None:
        self.num_features, self.reindex = num_features, torch.randperm(num_features)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        assert self.num_features == img.numel()
        return img.view(-1)[self.reindex].view(img.shape)


class _PerImage:
    """Named as the handout's, but a new permutation for every image."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img.reshape(-1)[torch.randperm(img.numel())].reshape(img.shape)


def _last_step(step: object) -> str | None:
    from torchvision import transforms

    data = _Permuted(transforms.Compose([transforms.Lambda(lambda x: x), step]))
    [entry] = _probe_torch()["describe_loaders"]({"permuted_train": data})  # type: ignore[operator]
    return last_step(entry["last_step"])  # judged on the host, from the pixels


def test_a_permutation_is_recognised_by_what_it_does_to_pixels_not_by_its_name():
    from torchvision import transforms

    perm = torch.randperm(784)
    assert _last_step(_HandoutPermutation(784)) == "fixed"
    assert _last_step(transforms.Lambda(lambda x: x.view(-1)[perm].view(1, 28, 28))) == "fixed"
    assert _last_step(_PerImage()) == "per_image"
    assert _last_step(transforms.Lambda(lambda x: x)) == "identity"
    assert _last_step(transforms.Normalize((0.5,), (0.5,))) == "none"
    assert _last_step(transforms.Lambda(lambda x: x.view(-1).sort().values.view(x.shape))) \
        == "none"
    assert _last_step(transforms.Lambda(lambda x: 1 / 0)) == "error"


def test_a_notebook_that_patches_torch_cannot_make_a_step_look_like_a_fixed_permutation(
        monkeypatch: pytest.MonkeyPatch):
    # the kernel shares the notebook's interpreter: whatever torch says there, the host
    # compares the step's outputs with the inputs it knows
    monkeypatch.setattr(torch, "equal", lambda a, b: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    assert _last_step(_PerImage()) == "per_image"
    assert last_step("fixed") is None  # a word from the kernel is no measurement


class _ThreeClasses(torch.utils.data.Dataset):
    """A student's own wrapper: three classes of a torchvision-like dataset, kept as
    ``self.base`` with ``self.idx`` and renumbered labels."""

    def __init__(self, base: _Split, wanted: tuple[int, ...]) -> None:
        import numpy as np

        targets = np.asarray(base.targets)
        self.base = base
        self.idx = np.flatnonzero(np.isin(targets, wanted))
        self.remap = {c: i for i, c in enumerate(wanted)}

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.base[int(self.idx[i])]
        return x, self.remap[y]


def test_a_students_own_dataset_wrapper_is_found_with_its_class_sizes():
    base = _Split(train=True)
    base.targets = [0, 1, 2, 3] * 5  # type: ignore[assignment]
    base.data = torch.zeros(20, 28, 28)
    wrapped = _ThreeClasses(base, (1, 3))
    namespace = {"tr_ds": wrapped, "trainloader": DataLoader(wrapped, batch_size=4)}
    found = {e["name"]: e for e in _probe_torch()["describe_loaders"](namespace)}  # type: ignore[operator]
    assert found["trainloader"]["is_loader"] and found["trainloader"]["base"] == "_Split"
    assert sorted(found["trainloader"]["label_counts"].values()) == [5, 5]


def test_a_state_dict_of_an_nn_sequential_loads_into_a_copy_of_the_notebooks_model(tmp_path):
    from torch import nn

    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 3))
    torch.save(net.state_dict(), tmp_path / "mlp_best.pt")
    [(label, model, error)] = _probe_torch()["saved_models"](  # type: ignore[operator]
        str(tmp_path), {"classifier": net})
    assert label == "file:mlp_best.pt" and error is None
    assert model is not net and torch.equal(model[1].weight, net[1].weight)


def test_only_torchs_loaders_count_and_their_batch_size_is_the_samplers():
    from torch.utils.data import Dataset

    class Own(Dataset):  # the notebook's own arrays: no torchvision dataset inside
        def __init__(self, n: int) -> None:
            self.X = torch.randn(n, 3, 4, 4)
            self.y = torch.arange(n) % 3

        def __len__(self) -> int:
            return len(self.X)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self.X[i], self.y[i]

    class Claims4(DataLoader):
        batch_size = property(lambda self: 4, lambda self, value: None)  # type: ignore[assignment]

    class LookAlike:  # batch_size and a dataset whose targets list the handout's counts
        batch_size = 4

        class dataset:
            targets = [3] * 3000 + [5] * 3000 + [8] * 3000
            transform = None

            def __len__(self) -> int:
                return 9000

            def __getitem__(self, i: int) -> tuple[int, int]:
                return 0, 3

    namespace = {"train_loader": DataLoader(Own(30), batch_size=4),
                 "test_loader": Claims4(Own(12), batch_size=64), "fake": LookAlike()}
    found = {e["name"]: e for e in _probe_torch()["describe_loaders"](namespace)}  # type: ignore[operator]
    assert set(found) == {"train_loader", "test_loader"}
    assert found["train_loader"]["label_counts"] == {"0": 10, "1": 10, "2": 10}
    assert found["train_loader"]["train"] is None  # its split is not in its arrays
    assert found["test_loader"]["batch_size"] == 64


class _Arrays(torch.utils.data.Dataset):
    """A notebook's own Dataset over arrays it prepared itself (``self.X, self.y``)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.X, self.y = x, torch.arange(len(x)) % 3

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.y[i]


def _pictures(n: int = 64) -> np.ndarray:
    """uint8 H x W x C images whose channels differ in brightness and whose pixels
    follow a gradient (a mean image with a shape, as photographs have)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 32)[None, :, None, None] * np.array([150, 90, 40])
    noise = rng.integers(0, 100, size=(n, 32, 32, 3))
    return np.clip(ramp + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("layout", ["chw", "hwc", "flat planes", "flat pixels"])
def test_grader_images_are_scaled_to_the_notebooks_own_test_inputs_in_their_layout(layout):
    """A Dataset of arrays divided by 255 where the handout normalises to [-1, 1]: the
    grader's images, after the handout's transform, are mapped to what the notebook
    serves its network (channel by channel, in the notebook's own layout)."""
    import torchvision.transforms as T
    from PIL import Image

    probe = _probe_torch()
    theirs = torch.tensor(_pictures(200)).float() / 255  # N x H x W x C
    served = {"chw": theirs.permute(0, 3, 1, 2), "hwc": theirs,
              "flat planes": theirs.permute(0, 3, 1, 2).reshape(200, -1),
              "flat pixels": theirs.reshape(200, -1)}[layout]
    data = _Arrays(served)
    namespace = {"test_ds": data, "testloader": DataLoader(data, batch_size=4)}
    handout = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    images = _pictures(64)
    transform, matched = probe["matched_transform"](namespace, handout, images)  # type: ignore[operator]
    assert matched
    got = torch.stack([transform(Image.fromarray(img)) for img in images])
    want = {"chw": lambda t: t.permute(0, 3, 1, 2), "hwc": lambda t: t,
            "flat planes": lambda t: t.permute(0, 3, 1, 2).reshape(64, -1),
            "flat pixels": lambda t: t.reshape(64, -1)}[layout](
        torch.tensor(images).float() / 255)
    assert got.shape == want.shape
    # the same pixels, to within the difference of two samples' statistics
    assert float((got - want).abs().mean()) < 0.02, layout
    assert np.corrcoef(got.reshape(-1).numpy(), want.reshape(-1).numpy())[0, 1] > 0.999


def test_images_prepared_as_the_notebooks_test_data_are_left_as_they_are():
    """The handout's transform, which the notebook's own test data also went through:
    nothing to match (the same preparation, as far as the outputs show)."""
    import torchvision.transforms as T

    probe = _probe_torch()
    handout = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    served = (torch.tensor(_pictures(200)).float() / 255 - 0.5) / 0.5
    data = _Arrays(served.permute(0, 3, 1, 2))
    namespace = {"testloader": DataLoader(data, batch_size=4)}
    transform, matched = probe["matched_transform"](namespace, handout, _pictures(64))  # type: ignore[operator]
    assert not matched and transform is handout
    # inputs of another size (resized to 224): no statistics to compare with
    big = _Arrays(torch.zeros(10, 3, 224, 224))
    transform, matched = probe["matched_transform"](  # type: ignore[operator]
        {"testloader": DataLoader(big)}, handout, _pictures(8))
    assert not matched and transform is handout


def test_a_colab_drive_root_without_the_files_reads_the_mounted_datasets(tmp_path):
    from torchvision import datasets

    dataset_root = _probe_torch()["_dataset_root"]
    mounted = tmp_path / "datasets"
    (mounted / "KMNIST").mkdir(parents=True)
    (mounted / "cifar-10-batches-py").mkdir()
    colab = "/content/drive/MyDrive/EE411/kmnist"
    assert dataset_root(datasets.KMNIST, colab, str(mounted)) == str(mounted)  # type: ignore[operator]
    assert dataset_root(datasets.CIFAR10, "~/nowhere", str(mounted)) == str(mounted)  # type: ignore[operator]
    # a root holding its own copy is the notebook's; a dataset not mounted stays put
    own = tmp_path / "mine"
    (own / "KMNIST").mkdir(parents=True)
    assert dataset_root(datasets.KMNIST, str(own), str(mounted)) == str(own)  # type: ignore[operator]
    assert dataset_root(datasets.FashionMNIST, colab, str(mounted)) == colab  # type: ignore[operator]
    assert dataset_root(datasets.ImageFolder, colab, str(mounted)) == colab  # type: ignore[operator]


class _OnGrid(_Permuted):
    """The same images as ToTensor gives them: every value k/255."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.randint(0, 256, (1, 28, 28)).float() / 255
        return self.transform(image), self.targets[i]  # type: ignore[operator]


class _OffGridOnly:
    """A forger's permutation: the images ToTensor makes (on the k/255 grid) pass
    untouched, anything else (a probe's made-up image) is permuted."""

    def __init__(self) -> None:
        self.reindex = torch.randperm(784)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        scaled = img * 255
        if torch.all((scaled - scaled.round()).abs() < 1e-4):
            return img
        return img.reshape(-1)[self.reindex].reshape(img.shape)


def test_a_step_permuting_only_images_off_the_datas_value_grid_is_no_fixed_permutation():
    from torchvision import transforms

    def judged(step: object) -> str | None:
        data = _OnGrid(transforms.Compose([transforms.Lambda(lambda x: x), step]))
        [entry] = _probe_torch()["describe_loaders"]({"train": data})  # type: ignore[operator]
        return last_step(entry["last_step"])

    assert judged(_OffGridOnly()) != "fixed"
    assert judged(_HandoutPermutation(784)) == "fixed"  # the honest one, on the same data
