"""What a checkpoint's state.json must hold, checked when it is loaded (models may come from anywhere).

The file names it lists are joined to the checkpoint folder, so each must be one plain `*.safetensors`
name (safepaths); the config must name a model and give it an options object; what training needs to
resume (seed, batch size, loss weights, RNG and optimizer state) is checked when training resumes.
"""

from __future__ import annotations

from typing import Any

from .. import schema as s
from ..errors import InputError
from ..safepaths import is_plain_name

MAX_FILES = 16

CONFIG = s.obj(
    {"model": s.string(64), "model_options": s.mapping(s.anything(3), max_items=64)},
    {"seed": s.integer(0, (1 << 63) - 1), "batch_size": s.integer(1, 1 << 16), "lr": s.number(0, 10),
     "warmup": s.integer(0, 1 << 40), "clip": s.number(0, 1e6), "loss": s.mapping(s.number(0, 1e6), max_items=32),
     "multiscale": s.boolean(), "augment": s.mapping(s.anything(3), max_items=64), "gan": s.number(0, 1e6),
     "holdout": s.number(0, 1), "faceset_a": s.string(), "faceset_b": s.string(), "input": s.string(),
     "expression_weight": s.number(0, 1e6), "expression_balance": s.number(0, 4),
     "pose_balance": s.number(0, 4),
     "occlusion": s.boolean(),
     # (yaw, pitch, faces) on a grid, per side (face/pose.py pose_cells)
     "poses": s.mapping(s.list_of(s.list_of(s.number(-360, 1 << 40), 3, 3), 0, 1 << 16), max_items=2, key_len=1),
     # carried into every output's C2PA manifest (train/record.py)
     "training_data": s.obj({"facesets": s.list_of(s.obj({
         "side": s.string(8), "name": s.string(), "sources": s.list_of(s.obj(
             {"name": s.string(), "sha256": s.string(128)}), 0, 1 << 16)}), 0, 4),
         "consent": s.nullable(s.string(4096))})},
)
STATE = s.obj(
    {"format": s.string(64), "iteration": s.integer(0, 1 << 40),
     "files": s.mapping(s.string(64), max_items=MAX_FILES), "config": CONFIG},
    {"version": s.integer(), "elapsed_s": s.number(0), "samples_seen": s.integer(0),
     "last_loss": s.anything(2), "rng": s.anything(3), "optimizer": s.anything(6),
     "disc_optimizer": s.anything(6)},
)
_OPTIMIZER = s.obj({"param_groups": s.list_of(s.obj({"params": s.list_of(s.integer(0, 1 << 24))}), 1, 64),
                    "names": s.list_of(s.string(512), 0, 1 << 16)})
RESUMABLE = s.obj(
    {"config": s.obj({k: v for k, v in (("seed", s.integer(0)), ("batch_size", s.integer(1, 1 << 16)),
                                        ("lr", s.number(0, 10)), ("warmup", s.integer(0)), ("clip", s.number(0)),
                                        ("loss", s.mapping(s.number(0, 1e6))), ("multiscale", s.boolean()),
                                        ("augment", s.mapping(s.anything(3))), ("gan", s.number(0)),
                                        ("holdout", s.number(0, 1)))}),
     "rng": s.obj({"torch": s.string(1 << 20), "numpy": s.list_of(s.anything(2), 5, 5),
                   "python": s.list_of(s.anything(2), 3, 3)}),
     "optimizer": _OPTIMIZER},
    {"disc_optimizer": _OPTIMIZER},
)


def check_state(state: Any, where: str) -> dict[str, Any]:
    """A loaded state.json, checked; its `files` are plain `.safetensors` names with hex digests."""
    s.validate(state, STATE, where)
    for name, digest in state["files"].items():
        if not is_plain_name(name) or not name.endswith(".safetensors"):
            raise InputError(f"{where} lists {name[:80]!r}, which is not a plain .safetensors file name "
                             "(a checkpoint may only refer to files in its own folder) - refusing it")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InputError(f"{where} is malformed (the SHA-256 of {name[:80]} is not 64 hex digits)")
    return state


def check_resumable(state: dict[str, Any], where: str) -> None:
    """What training reads from a checkpoint to continue it exactly."""
    s.validate(state, RESUMABLE, where)
