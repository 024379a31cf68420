"""`TrainOptions`: what `facesmith train` and `facesmith.train(...)` take, each default written once.

`None` means "the model's default" (size, batch size, learning rate: `models/<name>.py` DEFAULTS), or
on a resume "the checkpoint's" (seed, batch size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ..devices import DEVICES
from ..errors import InputError
from ..options import option

if TYPE_CHECKING:
    from .losses import LossWeights


@dataclass(frozen=True)
class TrainOptions:
    model: str | None = option(None, "model name: lite (default, CPU), original, hires (GPU)")
    size: int | None = option(None, "training size in px (model default: lite/original 64, hires 128)")
    batch_size: int | None = option(None, "faces per side per iteration (model default)")
    iterations: int | None = option(None, "train until iteration N (total, across resumes)", metavar="N")
    minutes: float | None = option(None, "train for M more minutes", metavar="M")
    device: str = option("auto", "", choices=DEVICES)
    seed: int | None = option(None, "random seed (default 0); a resume keeps the checkpoint's")
    resume: bool | None = None  # True: require a checkpoint; False: refuse one; None: resume when there is one
    gan: float = option(0.0, "add a patch-GAN loss with this weight", metavar="WEIGHT")
    expression_weight: float | None = option(None, "weight of the loss that makes the swap (B drawn as A) open its "
                                             "eyes and mouth as B does, read by the face mesh (model default)",
                                             metavar="W")
    expression_balance: float = option(0.0, "draw faces by inverse frequency^P of their eye/mouth openness "
                                            "(0: off, 1: full balance)", metavar="P")
    pose_balance: float = option(0.0, "draw faces by inverse frequency^P of their head pose (yaw, pitch), so the "
                                      "turns and tilts a video shows rarely come up more (0: off, 1: full balance)",
                                 metavar="P")
    occlusion: bool = option(False, "train the model's occlusion network (what convert's --occlusion keeps in front "
                                    "of the swap) first; what it finds covering a face in the facesets then weighs as "
                                    "background in the loss, so the model does not learn it as face")
    occlusion_steps: int = option(1200, "training steps of the occlusion network (--occlusion)", metavar="N")
    # loss weights: a string as on the command line, or a LossWeights
    loss: str | LossWeights | None = option(None, "loss weights, e.g. ssim=1,l1=1,eyes_mouth=3,mask=1,background=0.1",
                                            metavar="K=V,...", type=str)
    multiscale: bool = option(False, "multi-scale SSIM instead of SSIM (best at 128 px and up)", flag="--ms-ssim")
    lr: float | None = option(None, "AdamW learning rate (model default)")
    warmup: int = 100  # iterations of linear learning-rate warm-up
    clip: float = 1.0  # gradient-norm clip
    save_every: int = option(500, "checkpoint every N iterations", metavar="N")
    keep: int = option(3, "checkpoints kept", metavar="K")
    preview_every: int = option(100, "preview.png every N iterations", metavar="N")
    timelapse: bool = option(False, "also keep every preview under MODEL_DIR/timelapse/")
    log_every: int = 10  # iterations between loss readings (log.csv, TensorBoard, the progress line)
    holdout: float = option(0.0, "hold out the last F of each video's frames and report their reconstruction SSIM",
                            metavar="F")
    workers: int = option(2, "threads that decode faces")
    consent: str | None = option(None, "consent statement of the people in the facesets, recorded in the model "
                                 "and in the C2PA manifest of every output made with it", metavar="TEXT")
    model_options: dict[str, Any] | None = None  # the model's own options (coverage, arch, ...)

    def validate(self) -> None:
        for name in ("iterations", "batch_size", "size", "save_every", "keep", "preview_every", "log_every",
                     "occlusion_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 <= self.holdout < 1:
            raise InputError("--holdout must be in [0, 1)")
        if self.minutes is not None and self.minutes <= 0:
            raise InputError("--minutes must be more than 0")
        if (self.expression_weight or 0) < 0 or not 0 <= self.expression_balance <= 4:
            raise InputError("--expression-weight must be 0 or more and --expression-balance in [0, 4]")
        if not 0 <= self.pose_balance <= 4:
            raise InputError("--pose-balance must be in [0, 4]")


class TrainSummary(TypedDict):
    """What `train()` returns (and `facesmith train --json` prints)."""

    model: str
    size: int
    model_dir: str
    iterations: int  # the model's iteration count now, across resumes
    iterations_this_run: int
    resumed_from: int | None
    samples_per_s: float
    seconds: float
    loss_a: float | None
    loss_b: float | None
    heldout_ssim_a: float | None
    heldout_ssim_b: float | None
    checkpoint: str | None
    preview: str
    weights_sha256: str
    device: str
    world_size: int
    threads: str  # the thread count used, and what the governor measured (train/threads.py)
