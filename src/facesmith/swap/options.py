"""`SwapOptions`: what `facesmith swap` and `facesmith.swap(...)` take besides convert's blending and
output options (`convert.options.BLEND_OPTIONS`, `OUTPUT_OPTIONS`), each default written once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from ..devices import DEVICES
from ..errors import InputError
from ..options import option

# train's options a swap takes as they are (their defaults and flags live in train/options.py)
TRAIN_PASSTHROUGH = ("expression_weight", "expression_balance", "pose_balance", "gan")


@dataclass(frozen=True)
class SwapOptions:
    workdir: str | None = option(None, "work folder for faces, model and progress (default: OUT's name + "
                                       ".swap-work beside it)", metavar="DIR")
    quality: str | None = option(None, "draft (10 min on a CPU, the model alone), good (default: 30 min, the last "
                                       "15%% for a per-identity upscaler x2), best (120 min, upscaler x4); "
                                       "--minutes alone picks the level", choices=["draft", "good", "best"])
    model: str | None = option(None, "model: liae (default; CPU, follows the target's expression), lite, original, "
                                     "hires (GPU)")
    upscale: int | None = option(None, "per-identity upscaler factor, 0 for none (default: from --quality)",
                                 choices=[0, 2, 4])
    minutes: float | None = option(None, "total training time (default 30 on CPU, 8 on a CUDA GPU); re-running "
                                         "with more continues", metavar="M")
    iterations: int | None = option(None, "train to N iterations instead of for a time", metavar="N")
    batch_size: int | None = option(None, "training batch size (model default)")
    save_every: int = option(250, "checkpoint every N iterations (default %(default)s)", metavar="N")
    every: int | None = option(None, "use every Nth frame of SOURCE (default: every frame, or about 3000 frames "
                                     "of a long video)", metavar="N")
    device: str = option("auto", "", choices=DEVICES)
    size: int = 256  # the extracted faces' size
    overwrite: bool = False  # replace OUT (convert's --overwrite, which swap's command line shares)
    model_options: dict[str, Any] | None = None  # the model's own options (train's)

    def validate(self) -> None:
        if self.minutes is not None and self.minutes <= 0:
            raise InputError("--minutes must be more than 0")
        if self.iterations is not None and self.iterations < 1:
            raise InputError("--iterations must be at least 1")
        if self.every is not None and self.every < 1:
            raise InputError("--every must be 1 or more")
        if self.save_every < 1:
            raise InputError("--save-every must be at least 1")


class SwapSummary(TypedDict):
    """What `swap()` returns (and `facesmith swap --json` prints)."""

    workdir: str
    output: str
    plan: dict[str, Any]  # the SwapPlan: quality, model, minutes or iterations, upscaler, and why
    # per stage ("extract-source", "extract-target", "train", "convert"): its summary's plain values,
    # with "reused": True when an earlier run had finished it
    stages: dict[str, dict[str, Any]]
    # the target's faces beyond the source's head poses: target_faces, beyond_source_poses, farthest_degrees
    pose_coverage: dict[str, Any]
    seconds: float
