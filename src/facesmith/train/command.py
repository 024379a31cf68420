"""`facesmith train FACESET_A FACESET_B -o MODEL_DIR`: train or resume a face-swap model."""

from __future__ import annotations

import argparse
from typing import Any

from ..options import add_options, options_of
from .options import TrainOptions


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a face-swap model on two facesets",
        description="Train (or resume) a model that swaps identity A and identity B. Re-running the same "
                    "command on a MODEL_DIR that holds a checkpoint resumes it; Ctrl-C saves and stops.")
    p.add_argument("faceset_a", metavar="FACESET_A", help="faceset folder of identity A (from `facesmith extract`)")
    p.add_argument("faceset_b", metavar="FACESET_B", help="faceset folder of identity B")
    p.add_argument("-o", "--output", dest="model_dir", required=True, metavar="MODEL_DIR",
                   help="model folder: checkpoints, previews, logs")
    add_options(p, TrainOptions, ("model", "size", "batch_size"))
    add_options(p.add_mutually_exclusive_group(), TrainOptions, ("iterations", "minutes"))
    add_options(p, TrainOptions, ("device", "seed"))
    p.add_argument("--resume", action="store_true", default=None,
                   help="require resuming (the default whenever MODEL_DIR holds a checkpoint)")
    add_options(p, TrainOptions, ("gan", "loss", "multiscale", "lr", "expression_weight", "expression_balance",
                                   "pose_balance", "occlusion", "occlusion_steps"))
    p.add_argument("--coverage", type=float, help="central fraction of the aligned face the model sees (model default)")
    p.add_argument("--arch", choices=["df", "liae"], help="hires only: architecture")
    add_options(p, TrainOptions, ("save_every", "keep", "preview_every", "timelapse", "holdout", "workers",
                                   "consent"))
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .loop import train

    options = {k: v for k, v in (("coverage", args.coverage), ("arch", args.arch)) if v is not None}
    return train(args.faceset_a, args.faceset_b, args.model_dir, resume=args.resume, model_options=options or None,
                 **options_of(args, TrainOptions))
