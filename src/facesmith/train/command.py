"""`facesmith train FACESET_A FACESET_B -o MODEL_DIR`: train or resume a face-swap model."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a face-swap model on two facesets",
        description="Train (or resume) a model that swaps identity A and identity B. Re-running the same "
                    "command on a MODEL_DIR that holds a checkpoint resumes it; Ctrl-C saves and stops.")
    p.add_argument("faceset_a", metavar="FACESET_A", help="faceset folder of identity A (from `facesmith extract`)")
    p.add_argument("faceset_b", metavar="FACESET_B", help="faceset folder of identity B")
    p.add_argument("-o", "--output", dest="model_dir", required=True, metavar="MODEL_DIR",
                   help="model folder: checkpoints, previews, logs")
    p.add_argument("--model", help="model name: lite (default, CPU), original, hires (GPU)")
    p.add_argument("--size", type=int, help="training size in px (model default: lite/original 64, hires 128)")
    p.add_argument("--batch-size", type=int, help="faces per side per iteration (model default)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--iterations", type=int, metavar="N", help="train until iteration N (total, across resumes)")
    stop.add_argument("--minutes", type=float, metavar="M", help="train for M more minutes")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, help="random seed (default 0); a resume keeps the checkpoint's")
    p.add_argument("--resume", action="store_true", default=None,
                   help="require resuming (the default whenever MODEL_DIR holds a checkpoint)")
    p.add_argument("--gan", type=float, default=0.0, metavar="WEIGHT", help="add a patch-GAN loss with this weight")
    p.add_argument("--loss", metavar="K=V,...", help="loss weights, e.g. ssim=1,l1=1,eyes_mouth=3,mask=1,background=0.1")
    p.add_argument("--ms-ssim", action="store_true", help="multi-scale SSIM instead of SSIM (best at 128 px and up)")
    p.add_argument("--lr", type=float, help="AdamW learning rate (model default)")
    p.add_argument("--coverage", type=float, help="central fraction of the aligned face the model sees (model default)")
    p.add_argument("--arch", choices=["df", "liae"], help="hires only: architecture")
    p.add_argument("--save-every", type=int, default=500, metavar="N", help="checkpoint every N iterations")
    p.add_argument("--keep", type=int, default=3, metavar="K", help="checkpoints kept")
    p.add_argument("--preview-every", type=int, default=100, metavar="N", help="preview.png every N iterations")
    p.add_argument("--timelapse", action="store_true", help="also keep every preview under MODEL_DIR/timelapse/")
    p.add_argument("--holdout", type=float, default=0.0, metavar="F",
                   help="hold out the last F of each video's frames and report their reconstruction SSIM")
    p.add_argument("--workers", type=int, default=2, help="threads that decode faces")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .loop import train

    for name in ("iterations", "batch_size", "size", "save_every", "keep", "preview_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.holdout < 1:
        raise InputError("--holdout must be in [0, 1)")
    options = {k: v for k, v in (("coverage", args.coverage), ("arch", args.arch)) if v is not None}
    return train(
        args.faceset_a, args.faceset_b, args.model_dir, model=args.model, size=args.size,
        batch_size=args.batch_size, iterations=args.iterations, minutes=args.minutes, device=args.device,
        seed=args.seed, resume=args.resume, gan=args.gan, loss=args.loss, multiscale=args.ms_ssim, lr=args.lr,
        save_every=args.save_every, keep=args.keep, preview_every=args.preview_every, timelapse=args.timelapse,
        holdout=args.holdout, workers=args.workers, model_options=options or None,
    )
