"""A swap model's own occlusion network (face/occlusion.py), trained on the pair's faces by
train/occlusion.py and stored beside the model as MODEL_DIR/occlusion/{weights.safetensors, config.json}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..face.occlusion import OcclusionNet
from .sidecar import load_sidecar, load_sidecar_net, save_sidecar

FOLDER = "occlusion"


def save_occlusion(model_dir: Path, net: OcclusionNet, record: dict[str, Any]) -> Path:
    """`record`: what trained it and the held-out figures it reached."""
    return save_sidecar(model_dir, FOLDER, net.state_dict(), {"widths": list(net.widths), **record})


def no_occlusion_network(model_dir: str | Path) -> str:
    """What to say when --occlusion is asked of a model trained without it."""
    return (f"--occlusion: {model_dir} has no occlusion network; add one with `facesmith train FACESET_A FACESET_B "
            f"-o {model_dir} --occlusion` (it resumes the model and trains the network first)")


def occlusion_config(model_dir: Path) -> dict[str, Any] | None:
    got = load_sidecar(model_dir, FOLDER, "the occlusion network")
    return None if got is None else got[0]


def load_occlusion(model_dir: Path, device: str | torch.device = "cpu") -> OcclusionNet | None:
    """The occlusion network trained for this model folder (eval mode), or None when there is none."""
    return load_sidecar_net(model_dir, FOLDER, "the occlusion network",
                            lambda cfg: OcclusionNet(tuple(int(w) for w in cfg["widths"])), device)
