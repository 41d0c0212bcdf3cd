"""One vocabulary for network layers and dataset transforms, used by every check:
architecture checks match layers with it (None matches anything), parameter-count
checks build models from it inside the sandbox, accuracy checks fall back to its
transforms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Linear:
    in_features: int | None = None
    out_features: int | None = None


@dataclass(frozen=True)
class Conv2d:
    in_channels: int | None = None
    out_channels: int | None = None
    kernel_size: int | None = None


@dataclass(frozen=True)
class Layer:
    """Any other ``torch.nn`` layer by class name: ``Layer("ReLU")``,
    ``Layer("MaxPool2d", 2)``, ``Layer("BatchNorm2d", 16)``."""

    name: str
    args: tuple[Any, ...] = ()

    def __init__(self, name: str, *args: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", tuple(args))


LayerSpec = Linear | Conv2d | Layer


def layer_name(layer: LayerSpec) -> str:
    return layer.name if isinstance(layer, Layer) else type(layer).__name__


def layer_wire(layer: LayerSpec) -> list[Any]:
    """[class name, args...] as the kernel builds it; every size must be known."""
    if isinstance(layer, Layer):
        return [layer.name, *layer.args]
    if isinstance(layer, Linear):
        args: list[Any] = [layer.in_features, layer.out_features]
    else:
        args = [layer.in_channels, layer.out_channels, layer.kernel_size]
    if any(a is None for a in args):
        raise ValueError(f"{layer} cannot be built: a size is not given")
    return [type(layer).__name__, *args]


def layer_parameters(layer: LayerSpec) -> int:
    """Trainable parameters of the layer as torch.nn builds it (weights and biases)."""
    name, *args = layer_wire(layer)
    if name == "Linear":
        return int(args[0] * args[1] + args[1])
    if name == "Conv2d":
        return int(args[0] * args[1] * args[2] * args[2] + args[1])
    if name == "Conv1d":
        return int(args[0] * args[1] * args[2] + args[1])
    if name.startswith("BatchNorm"):
        return int(2 * args[0])
    return 0


@dataclass(frozen=True)
class Transform:
    """A torchvision transform by class name: ``Transform("ToTensor")``,
    ``Transform("Normalize", (0.5,) * 3, (0.5,) * 3)``."""

    name: str
    args: tuple[Any, ...] = ()

    def __init__(self, name: str, *args: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", tuple(args))

    def wire(self) -> list[Any]:
        return [self.name, *[list(a) if isinstance(a, tuple) else a for a in self.args]]


TO_TENSOR = Transform("ToTensor")
