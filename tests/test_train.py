"""Training on real faces: a short run learns, resume is bit-identical, checkpoints refuse bad files.

Faces come from the real extractor (every 4th frame of the shared identity videos) once per session.
"""

from __future__ import annotations

import atexit
import csv
import errno
import functools
import json
import os
import pickle
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import facesmith
from facesmith.errors import InputError, OutputError
from facesmith.models import checkpoint as ckpt_io
from facesmith.models import load_model
from facesmith.train.logs import _masked

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "video"
# a tiny `lite` so a few dozen iterations take seconds on 2 cores
TINY = {"enc": (8, 16, 32, 64), "latent": 32, "dec": (32, 16, 16, 8)}
FAST = {"model": "lite", "model_options": TINY, "batch_size": 8, "lr": 2e-3, "warmup": 5, "workers": 2}


@functools.cache
def extracted_facesets() -> tuple[Path, Path]:
    root = Path(tempfile.mkdtemp(prefix="facesmith-train-test-"))
    atexit.register(shutil.rmtree, root, True)
    out = []
    for name in ("identity_a", "identity_b"):
        facesmith.extract([VIDEOS / f"{name}.mp4"], root / name, every=4)
        out.append(root / name)
    return out[0], out[1]


@pytest.fixture
def facesets() -> tuple[Path, Path]:
    if not VIDEOS.is_dir():
        pytest.fail(f"shared test videos not found at {VIDEOS}")
    return extracted_facesets()


def rows(model_dir: Path) -> list[dict[str, str]]:
    with open(model_dir / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_short_run_lowers_both_losses(facesets: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = facesets
    out = tmp_path / "m"
    summary = facesmith.train(a, b, out, iterations=40, log_every=2, preview_every=20, save_every=20,
                              holdout=0.1, timelapse=True, **FAST)
    assert summary["iterations"] == 40 and summary["resumed_from"] is None
    log = rows(out)
    assert [int(r["iteration"]) for r in log] == list(range(2, 41, 2))
    for side in ("a", "b"):
        first = sum(float(r[f"loss_{side}"]) for r in log[:3]) / 3
        last = sum(float(r[f"loss_{side}"]) for r in log[-3:]) / 3
        assert last < 0.85 * first, (side, first, last)
    assert 0 < summary["heldout_ssim_a"] < 1 and 0 < summary["heldout_ssim_b"] < 1
    # artefacts: preview, timelapse, loss plot, TensorBoard events with valid framing, checkpoints
    for name in ("preview.png", "loss.png", "timelapse/00000020.png", "timelapse/00000040.png"):
        assert (out / name).stat().st_size > 1000, name
    events = next((out / "tensorboard").iterdir()).read_bytes()
    pos, n = 0, 0
    while pos < len(events):
        (length,) = struct.unpack("<Q", events[pos:pos + 8])
        assert events[pos + 8:pos + 12] == _masked(events[pos:pos + 8])
        data = events[pos + 12:pos + 12 + length]
        assert events[pos + 12 + length:pos + 16 + length] == _masked(data)
        pos += 16 + length
        n += 1
    assert n == 1 + 20  # file version + one event per log row
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["00000020", "00000040", "latest"]
    # the trained model loads for conversion and swaps
    model, config = load_model(out)
    assert config["model_options"]["coverage"] == 0.875 and not model.training
    faces, mask = model.swap(torch.rand(2, 3, 64, 64), "a2b")
    assert faces.shape == (2, 3, 64, 64) and mask is None
    info = ckpt_io.describe(out)
    assert info["iteration"] == 40 and info["model"] == "lite" and info["parameters"] > 0


def test_resume_is_bit_identical(facesets: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = facesets
    opts = {**FAST, "gan": 0.1, "log_every": 3, "preview_every": 100, "seed": 7}
    facesmith.train(a, b, tmp_path / "straight", iterations=12, save_every=6, **opts)
    first = facesmith.train(a, b, tmp_path / "resumed", iterations=6, save_every=6, **opts)
    assert first["iterations"] == 6
    second = facesmith.train(a, b, tmp_path / "resumed", iterations=12, save_every=6, **opts)
    assert second["resumed_from"] == 6 and second["iterations_this_run"] == 6
    for fname in ("model", "optimizer", "discriminator", "disc_optimizer"):
        x = load_file(tmp_path / "straight" / "checkpoints" / "00000012" / f"{fname}.safetensors")
        y = load_file(tmp_path / "resumed" / "checkpoints" / "00000012" / f"{fname}.safetensors")
        assert x.keys() == y.keys() and len(x) > 0
        for k in x:
            assert torch.equal(x[k], y[k]), (fname, k)
    # the loss curve continues: identical rows, no duplicates
    straight, resumed = rows(tmp_path / "straight"), rows(tmp_path / "resumed")
    assert [r["loss_a"] for r in straight] == [r["loss_a"] for r in resumed]
    assert [r["iteration"] for r in resumed] == ["3", "6", "9", "12"]


@pytest.fixture
def trained(facesets: tuple[Path, Path], tmp_path: Path) -> Path:
    facesmith.train(*facesets, tmp_path / "m", iterations=4, save_every=2, keep=5, preview_every=100, **FAST)
    return tmp_path / "m"


class Boom:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickle_checkpoint_is_refused_unopened(trained: Path, tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "PWNED"
    target = trained / "checkpoints" / "00000004" / "model.safetensors"
    if kind == "pickle":
        target.write_bytes(pickle.dumps(Boom(marker)))
    else:
        torch.save({"w": torch.zeros(2), "boom": Boom(marker)}, target)
    with pytest.raises(InputError, match="pickle"):
        load_model(trained)
    with pytest.raises(InputError, match="pickle"):
        ckpt_io.read_safetensors(target)
    assert not marker.exists()


def test_corrupt_or_truncated_checkpoint(trained: Path) -> None:
    target = trained / "checkpoints" / "00000004" / "model.safetensors"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"corrupt or truncated.*older checkpoints: 00000002"):
        load_model(trained)
    target.write_bytes(data[:-8] + b"\0" * 8)  # same size, flipped bytes
    with pytest.raises(InputError, match="checksum"):
        load_model(trained)
    (trained / "checkpoints" / "00000004" / "state.json").write_text("{not json")
    with pytest.raises(InputError, match=r"state\.json"):
        load_model(trained)


def test_loading_for_inference_reads_only_the_weights(trained: Path, facesets: tuple[Path, Path]) -> None:
    """`load_model` (convert) checks and reads model.safetensors alone; resuming training checks every
    file, so a damaged optimizer state stops a resume but not a convert."""
    optimizer = trained / "checkpoints" / "00000004" / "optimizer.safetensors"
    data = optimizer.read_bytes()
    optimizer.write_bytes(data[: len(data) // 2])
    model, _ = load_model(trained)
    weights = load_file(trained / "checkpoints" / "00000004" / "model.safetensors")
    assert all(torch.equal(t, weights[k]) for k, t in model.state_dict().items())
    assert not any(t.is_meta for t in model.state_dict().values())
    with pytest.raises(InputError, match=r"optimizer\.safetensors is corrupt or truncated"):
        facesmith.train(*facesets, trained, iterations=6, **FAST)


def test_checkpoint_of_another_model_or_size(trained: Path, facesets: tuple[Path, Path]) -> None:
    with pytest.raises(InputError, match="cannot continue as 'original'"):
        facesmith.train(*facesets, trained, model="original", iterations=6)
    with pytest.raises(InputError, match=r"other model options \(latent\)"):
        facesmith.train(*facesets, trained, iterations=6, model_options={**TINY, "latent": 64})
    # weights that do not fit the architecture named in state.json (e.g. copied from another model)
    state_path = trained / "checkpoints" / "00000004" / "state.json"
    state = json.loads(state_path.read_text())
    state["config"]["model_options"]["latent"] = 64
    state_path.write_text(json.dumps(state))
    with pytest.raises(InputError, match="does not fit model 'lite'"):
        facesmith.train(*facesets, trained, iterations=6)
    with pytest.raises(InputError, match="does not fit"):
        load_model(trained)


def test_disk_full_keeps_previous_checkpoint(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = ckpt_io.load_latest(trained)
    assert ckpt is not None and ckpt.iteration == 4
    calls = []

    def full(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        Path(path).write_bytes(data)

    monkeypatch.setattr(ckpt_io.atomic, "write_bytes", full)
    with pytest.raises(OutputError, match=r"disk is full.*00000004\) is intact"):
        ckpt_io.save_checkpoint(trained, 6, {"model": ckpt.model_state, "optimizer": ckpt.tensors["optimizer"]},
                                {k: v for k, v in ckpt.state.items() if k not in ("format", "version", "iteration", "files")})
    monkeypatch.undo()
    assert ckpt_io.load_latest(trained).iteration == 4
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["00000002", "00000004", "latest"]
