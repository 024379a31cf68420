"""The model fingerprint carried by every mark: a short hash of the weights that made the swap."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError

# 64 bits of SHA-256, as carried by the metadata and the C2PA manifest. The pixel watermark has room
# for the first 40 of them (payload.py): still ~1e-6 collision chance among 1,000 models.
FINGERPRINT_HEX = 16


def model_fingerprint(model_dir: str | Path) -> str:
    """Hex prefix of the SHA-256 of the latest checkpoint's weights (model.safetensors).

    `model_dir` may also be a checkpoint folder or a weights file itself.
    """
    from ..models.checkpoint import latest_name

    path = Path(model_dir)
    if path.is_dir() and not (path / "model.safetensors").is_file():
        name = latest_name(path)
        if name is None:
            raise InputError(f"{path} holds no checkpoint to fingerprint")
        path = path / "checkpoints" / name
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise InputError(f"no model weights at {path}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return fingerprint_of(digest.hexdigest())


def fingerprint_of(weights_sha256: str) -> str:
    """The fingerprint of weights whose SHA-256 (hex) is already known: a loaded model's
    `weights_sha256`, verified as it was loaded (so convert does not hash the file twice)."""
    return weights_sha256[:FINGERPRINT_HEX]
