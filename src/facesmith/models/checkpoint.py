"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

    MODEL_DIR/checkpoints/00001200/model.safetensors      model weights (what convert needs)
                                  optimizer.safetensors  AdamW state flattened to named tensors
                                  state.json             config, iteration, RNG states, file hashes
    MODEL_DIR/checkpoints/latest                         name of the newest complete checkpoint

A checkpoint folder is written under a temporary name and renamed when complete, `latest` is
rewritten last, and old checkpoints are pruned only after that: a crash or a full disk at any point
leaves the previous checkpoint loadable. Loading checks the safetensors header before handing the
bytes to the safetensors parser (which never unpickles), so a pickle or torch.save file passed off as
a checkpoint is refused by its first bytes, and a SHA-256 per file catches corruption and truncation.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import random
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .. import atomic, schema
from ..errors import InputError, OutputError
from ..safepaths import inside, rmtree_inside
from .checkpoint_schema import check_state

FORMAT = "facesmith-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    path: Path
    iteration: int
    config: dict[str, Any]
    state: dict[str, Any]  # the whole state.json
    model_state: dict[str, torch.Tensor]
    tensors: dict[str, dict[str, torch.Tensor]]  # other safetensors files by stem (optimizer, ...)


# ---- safetensors with a pickle trap ----

def check_safetensors_bytes(data: bytes, name: str) -> None:
    """Refuse anything that is not a safetensors file, by its first bytes, before parsing."""
    if len(data) >= 10 and data[8:9] == b"{":  # a safetensors header: 8-byte little-endian length, then JSON
        (n,) = struct.unpack("<Q", data[:8])
        if n <= min(len(data) - 8, 100 * 2**20):
            return
        # The length is what it is whatever its first byte (0x80 too: a 128-byte header): not a pickle.
        raise InputError(f"{name} is truncated or damaged: its safetensors header claims {n} bytes but the "
                         f"file has {len(data) - 8} after the length; the checkpoint is damaged")
    if data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        raise InputError(  # torch.save zip / pickle protocol 2..5 (and no JSON header at byte 8)
            f"{name} is not a safetensors file: it is a pickle / torch.save file; facesmith never "
            "unpickles checkpoints (unpickling can run arbitrary code) - refusing it")
    if len(data) < 10:
        raise InputError(f"{name} is truncated ({len(data)} bytes); the checkpoint is damaged")
    raise InputError(f"{name} is not a valid safetensors file (bad header); the checkpoint is damaged")


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    data = path.read_bytes()
    check_safetensors_bytes(data, str(path))
    try:
        return st_load(data)
    except (SafetensorError, ValueError) as e:
        raise InputError(f"{path} is corrupt or truncated ({e}); the checkpoint is damaged") from None


# ---- JSON-safe RNG states and optimizer flattening ----

def rng_state() -> dict[str, Any]:
    py = random.getstate()
    np_state = np.random.get_state()
    return {
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
        "numpy": [np_state[0], np.asarray(np_state[1]).tolist(), *map(float, np_state[2:])],
        "python": [py[0], list(py[1]), py[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(state["torch"])), dtype=torch.uint8))
    n = state["numpy"]
    np.random.set_state((n[0], np.array(n[1], np.uint32), int(n[2]), int(n[3]), float(n[4])))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def flatten_optimizer(opt: torch.optim.Optimizer, names: list[str]) -> tuple[dict[str, torch.Tensor], dict]:
    """AdamW state -> {"<param name>.<key>": tensor} + JSON param groups (params as indices)."""
    sd = opt.state_dict()
    tensors = {f"{names[i]}.{k}": v.detach().clone().contiguous()
               for i, st in sd["state"].items() for k, v in st.items() if torch.is_tensor(v)}
    return tensors, {"param_groups": sd["param_groups"], "names": names}


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    names: list[str] = meta["names"]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        pname, _, k = key.rpartition(".")
        state.setdefault(names.index(pname), {})[k] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


# ---- saving ----

def _ckpt_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def _remove_stale_temps(root: Path) -> None:
    """Half-written checkpoint folders of processes that are gone (killed while saving)."""
    for entry in root.glob(".tmp-*"):
        pid = entry.name.split("-")[1]
        if not (pid.isdigit() and entry.name.count("-") == 2 and atomic.pid_alive(int(pid))):
            rmtree_inside(root, entry)


def save_checkpoint(model_dir: Path, iteration: int, files: dict[str, dict[str, torch.Tensor]],
                    state: dict[str, Any], keep: int = 3) -> Path:
    """Write checkpoint `iteration` (files: stem -> tensors, "model" first) and prune to `keep`."""
    root = model_dir / "checkpoints"
    final = root / f"{iteration:08d}"
    previous = latest_name(model_dir)
    if final.is_dir() and previous == final.name:
        return final  # already saved at this iteration (e.g. Ctrl-C right after a periodic save)
    tmp = root / f".tmp-{os.getpid()}-{iteration:08d}"  # per process: never another writer's folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(root)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        hashes = {}
        for stem, tensors in files.items():
            data = st_save({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                           metadata={"format": FORMAT, "iteration": str(iteration)})
            atomic.write_bytes(tmp / f"{stem}.safetensors", data)
            hashes[f"{stem}.safetensors"] = hashlib.sha256(data).hexdigest()
        body = {"format": FORMAT, "version": VERSION, "iteration": iteration, "files": hashes, **state}
        atomic.write_json(tmp / "state.json", body)
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
        atomic.write_bytes(root / "latest", f"{final.name}\n".encode())
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        kept = f"the previous checkpoint ({previous}) is intact" if previous else "no earlier checkpoint exists"
        raise OutputError(f"could not save the checkpoint at iteration {iteration} in {root}: {why}; "
                          f"{kept} - free some space and re-run to resume") from None
    for old in _ckpt_dirs(root)[:-max(1, keep)]:
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    return final


# ---- loading ----

def latest_name(model_dir: Path) -> str | None:
    root = Path(model_dir) / "checkpoints"
    with contextlib.suppress(OSError):
        name = (root / "latest").read_text().strip()
        if name.isdigit() and (root / name / "state.json").is_file():
            return name
    dirs = [d for d in _ckpt_dirs(root) if (d / "state.json").is_file()]
    return dirs[-1].name if dirs else None


def has_checkpoint(model_dir: Path) -> bool:
    return latest_name(model_dir) is not None


def load_checkpoint(path: Path, only_model: bool = False) -> Checkpoint:
    """A checkpoint, every file verified against its recorded SHA-256. `only_model`: just the model's
    weights (convert does not need the optimizer state, which is most of the bytes)."""
    older = [d.name for d in _ckpt_dirs(path.parent) if d.name < path.name]
    hint = f" (older checkpoints: {', '.join(older)}; delete {path} to resume from one)" if older else ""
    try:
        text = (path / "state.json").read_bytes()
    except OSError as e:
        raise InputError(f"checkpoint {path} has no readable state.json ({e.strerror or e}){hint}") from None
    state = schema.loads(text, f"{path / 'state.json'}")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path} is not a facesmith checkpoint{hint}")
    check_state(state, str(path / "state.json"))
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for fname, digest in state["files"].items():
        if only_model and fname != "model.safetensors":
            continue
        fpath = inside(path, fname)
        if not fpath.is_file():
            raise InputError(f"checkpoint {path} is missing {fname}{hint}")
        data = fpath.read_bytes()
        check_safetensors_bytes(data, str(fpath))
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputError(f"{fpath} is corrupt or truncated (checksum mismatch){hint}")
        try:
            tensors[fname.removesuffix(".safetensors")] = st_load(data)
        except (SafetensorError, ValueError) as e:
            raise InputError(f"{fpath} is corrupt ({e}){hint}") from None
    if "model" not in tensors:
        raise InputError(f"checkpoint {path} holds no model weights{hint}")
    return Checkpoint(path, int(state["iteration"]), state["config"], state, tensors.pop("model"), tensors)


def load_latest(model_dir: Path, only_model: bool = False) -> Checkpoint | None:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(f"model folder not found: {model_dir}")
    name = latest_name(model_dir)
    return load_checkpoint(model_dir / "checkpoints" / name, only_model) if name else None


def describe(model_dir: Path) -> dict[str, Any]:
    """What `facesmith model info` prints."""
    ckpt = load_latest(model_dir)
    if ckpt is None:
        raise InputError(f"{model_dir} holds no checkpoint")
    params = sum(t.numel() for t in ckpt.model_state.values())
    cfg = ckpt.config
    return {
        "model": cfg["model"], "size": cfg["model_options"].get("size"),
        "coverage": cfg["model_options"].get("coverage"), "iteration": ckpt.iteration,
        "parameters": params, "checkpoint": str(ckpt.path),
        "checkpoints": [d.name for d in _ckpt_dirs(Path(model_dir) / "checkpoints")],
        "samples_seen": ckpt.state.get("samples_seen"), "train_seconds": ckpt.state.get("elapsed_s"),
        "last_loss": ckpt.state.get("last_loss"), "faceset_a": cfg.get("faceset_a"),
        "faceset_b": cfg.get("faceset_b"), "seed": cfg.get("seed"), "batch_size": cfg.get("batch_size"),
        "model_options": cfg["model_options"],
        # facesets, their sources' SHA-256 and the consent given at train (None: trained before
        # models recorded it), carried into every output's C2PA manifest
        "training_data": cfg.get("training_data"),
        # the head poses each side was trained at (convert's --unseen-pose): faces, yaw and pitch ranges
        "poses": {side: {"faces": int(sum(c[2] for c in cells)),
                         "yaw": [min(c[0] for c in cells), max(c[0] for c in cells)] if cells else None,
                         "pitch": [min(c[1] for c in cells), max(c[1] for c in cells)] if cells else None}
                  for side, cells in (cfg.get("poses") or {}).items()},
        "bytes": sum(f.stat().st_size for f in ckpt.path.iterdir()),
    }


def trained_facesets(config: dict[str, Any], model_dir: Path) -> dict[str, Path]:
    """The facesets the model was trained on that still exist (a relative path recorded by `train`
    is tried from here and from beside the model folder)."""
    out = {}
    for side in ("a", "b"):
        value = config.get(f"faceset_{side}")
        for path in (Path(value), model_dir.parent / value) if value else ():
            if path.is_dir():
                out[side] = path
                break
    return out
