"""Face-swap models and their registry.

Adding a model = one new file in this package that defines an `nn.Module` subclass of `SwapModel`
decorated with `@register_model("name")`, plus its line in `_BUILTIN` below.

Every model follows one contract, used by training, preview and convert:

    model(x_a, x_b) -> (y_a, m_a, y_b, m_b)    # reconstructions for training (A by decoder A, ...)
    model.render(x, side) -> (faces, mask)       # faces re-drawn as identity `side` ("a" or "b")
    model.swap(x, direction="a2b") -> (faces, mask)

Inputs `x` are aligned faces as float tensors (N, 3, S, S), **BGR channel order, values in [0, 1]**,
S = config["size"]. The crop is the central `config["coverage"]` fraction of the extracted aligned
face (e.g. coverage 0.875 of a 256 px crop = the central 224 px), resized to S. Outputs are in the same
space; `mask` is (N, 1, S, S) in [0, 1] for models that learn it (config["learns_mask"]), else None.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import InputError
from ..registry import Registry

# name -> module that registers it when imported (one line per model file)
_BUILTIN = {"lite": ".lite", "original": ".original", "hires": ".hires", "liae": ".liae"}
_MODELS: Registry[SwapModel] = Registry("model", _BUILTIN, __name__)


class SwapModel(nn.Module):
    """Base class: subclasses set DEFAULTS and implement forward() and render()."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    # sizes the architecture supports (checked before building, so a bad --size is one clear line)
    SIZES: ClassVar[tuple[int, ...]] = (64,)

    def __init__(self, **cfg: Any) -> None:
        super().__init__()
        unknown = set(cfg) - set(self.DEFAULTS)
        if unknown:
            raise InputError(f"model {self.name!r} has no option(s) {sorted(unknown)}; it has {sorted(self.DEFAULTS)}")
        self.config: dict[str, Any] = {"model": self.name, **self.DEFAULTS, **cfg}
        self.weights_sha256 = ""  # of the model.safetensors it was loaded from, verified (load_model)
        if self.config["size"] not in self.SIZES:
            raise InputError(f"model {self.name!r} supports sizes {list(self.SIZES)}, not {self.config['size']}")

    name = "base"

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def render(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def swap(self, x: torch.Tensor, direction: str = "a2b") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Faces of one identity re-drawn as the other: "a2b" turns A faces into B, "b2a" the reverse."""
        if direction not in ("a2b", "b2a"):
            raise ValueError(f"direction must be 'a2b' or 'b2a', not {direction!r}")
        return self.render(x, direction[-1])


def register_model(name: str) -> Callable[[type[SwapModel]], type[SwapModel]]:
    def deco(cls: type[SwapModel]) -> type[SwapModel]:
        cls.name = name
        _MODELS.register(name)(cls)
        return cls

    return deco


def available_models() -> list[str]:
    return _MODELS.names()


def model_class(name: str) -> type[SwapModel]:
    return _MODELS.get(name)  # type: ignore[return-value]


def create_model(name: str, **cfg: Any) -> SwapModel:
    """Build a model; options left out (or None) take the model's defaults. Options are checked (types,
    ranges, parameter count: models/budget.py) before anything is allocated."""
    from . import budget

    if not isinstance(name, str):
        raise InputError(f"model name {str(name)[:40]!r} is not a string")
    cls = model_class(name)
    options = budget.check_options(name, cls.DEFAULTS, {k: v for k, v in cfg.items() if v is not None})
    budget.check_parameters(name, budget.parameter_count(lambda: cls(**options)))
    return cls(**options)


def load_model(model_dir: str | Path, device: str = "cpu") -> tuple[SwapModel, dict[str, Any]]:
    """The latest checkpoint of a trained model, ready for `model.swap` (eval mode)."""
    from .checkpoint import load_latest

    ckpt = load_latest(Path(model_dir), only_model=True)
    if ckpt is None:
        raise InputError(f"{model_dir} holds no checkpoint; train one with `facesmith train`")
    with torch.device("meta"):  # no random init of weights the checkpoint replaces anyway
        model = create_model(ckpt.config["model"], **ckpt.config["model_options"])
    try:
        model.load_state_dict(ckpt.model_state, assign=True)
    except RuntimeError as e:
        raise InputError(f"checkpoint {ckpt.path} does not fit model {ckpt.config['model']!r} "
                         f"({str(e).splitlines()[0][:200]})") from None
    model.weights_sha256 = ckpt.state["files"]["model.safetensors"]  # load_checkpoint checked the file against it
    return model.to(device).eval(), ckpt.config


# ---- building blocks shared by the models ----

def icnr_(weight: torch.Tensor, scale: int = 2) -> None:
    """ICNR init for conv + pixel-shuffle: every sub-pixel starts equal, so no checkerboard at start."""
    out_ch, in_ch, kh, kw = weight.shape
    sub = torch.empty(out_ch // scale**2, in_ch, kh, kw)
    nn.init.kaiming_uniform_(sub, a=0.1)
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(scale**2, dim=0))


class Conv(nn.Sequential):
    """conv + LeakyReLU(0.1), 'same' padding."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, stride, padding=k // 2), nn.LeakyReLU(0.1, inplace=True))


class Upscale(nn.Sequential):
    """x2 upscaling the cheap way: a conv at the low resolution to 4*cout channels, then pixel shuffle."""

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        conv = nn.Conv2d(cin, cout * 4, k, padding=k // 2)
        icnr_(conv.weight)
        super().__init__(conv, nn.LeakyReLU(0.1, inplace=True), nn.PixelShuffle(2))


class ResBlock(nn.Module):
    def __init__(self, ch: int, k: int = 3) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, k, padding=k // 2)
        self.c2 = nn.Conv2d(ch, ch, k, padding=k // 2)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.c2(self.act(self.c1(x))))


def split_output(y: torch.Tensor, learns_mask: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Decoder logits -> (faces in [0, 1], mask in [0, 1] or None)."""
    y = torch.sigmoid(y.float())
    return (y[:, :3], y[:, 3:4]) if learns_mask else (y, None)


__all__ = [
    "SwapModel", "available_models", "create_model", "load_model", "model_class", "register_model",
]
