"""Networks stored beside a swap model, each in its own folder of MODEL_DIR:
{weights.safetensors, config.json}, the config carrying the weights' SHA-256 (no pickle)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..errors import InputError

Net = TypeVar("Net", bound=torch.nn.Module)


def save_sidecar(model_dir: Path, folder: str, state: dict[str, torch.Tensor], config: dict[str, Any]) -> Path:
    """Write MODEL_DIR/`folder` (each file atomically: weights first, so a config always names whole weights)."""
    from safetensors.torch import save as st_save

    from ..atomic import write_bytes, write_json

    where = Path(model_dir) / folder
    where.mkdir(exist_ok=True)
    data = st_save({k: v.detach().cpu().contiguous() for k, v in state.items()})
    write_bytes(where / "weights.safetensors", data)
    write_json(where / "config.json", {**config, "sha256": hashlib.sha256(data).hexdigest()})
    return where


def load_sidecar(model_dir: Path, folder: str, what: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """(config, weights) of MODEL_DIR/`folder`, or None when there is none. `what` names the network
    in errors ("the upscaler")."""
    from safetensors.torch import load as st_load

    from .checkpoint import check_safetensors_bytes

    where = Path(model_dir) / folder
    if not (where / "config.json").is_file():
        return None
    try:
        cfg = json.loads((where / "config.json").read_text())
        data = (where / "weights.safetensors").read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{where} is unreadable ({e}); delete it to convert without {what}") from None
    if not isinstance(cfg, dict) or hashlib.sha256(data).hexdigest() != cfg.get("sha256"):
        raise InputError(f"{where}/weights.safetensors does not match its config.json (damaged); delete {where}")
    check_safetensors_bytes(data, str(where / "weights.safetensors"))
    try:
        return cfg, st_load(data)
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise InputError(f"{where} holds {what} this facesmith cannot read ({str(e)[:200]})") from None


def load_sidecar_net(model_dir: Path, folder: str, what: str, build: Callable[[dict[str, Any]], Net],
                     device: str | torch.device = "cpu") -> Net | None:
    """The network of MODEL_DIR/`folder` built by `build(config)` with its weights (eval mode), or None."""
    got = load_sidecar(model_dir, folder, what)
    if got is None:
        return None
    cfg, state = got
    try:
        net = build(cfg)
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"{Path(model_dir) / folder} holds {what} this facesmith cannot use ({str(e)[:200]})") from None
    return net.to(device).eval()
