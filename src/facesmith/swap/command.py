"""CLI for `facesmith swap`."""

from __future__ import annotations

import argparse
from typing import Any

from ..convert.command import add_blend_options, blend_kwargs
from ..devices import DEVICES


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "swap", help="put the face from SOURCE onto the person in TARGET (extract, train, convert)",
        description="The whole job in one command: extract the faces of SOURCE (a video or a folder of photos; "
                    "identity A) and of TARGET (a video; identity B), train a model, and convert TARGET with "
                    "B's faces drawn as A. Progress is kept in a work folder: re-running the same command "
                    "resumes where it stopped, and re-uses every finished stage.")
    p.add_argument("source", metavar="SOURCE", help="video or folder of photos of the face to put in")
    p.add_argument("target", metavar="TARGET", help="video whose person gets the face")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output video (.mp4, .mov or .mkv)")
    p.add_argument("--workdir", metavar="DIR", help="work folder for faces, model and progress "
                   "(default: OUT's name + .swap-work beside it)")
    t = p.add_argument_group("training")
    t.add_argument("--quality", choices=["draft", "good", "best"],
                   help="draft (10 min on a CPU, model alone), good (default: 30 min, + per-identity upscaler x2), "
                        "best (120 min, upscaler x4); --minutes alone picks the level from the minutes")
    t.add_argument("--model", help="model: liae (default; CPU, follows the target's expression), lite, original, hires (GPU)")
    t.add_argument("--upscale", type=int, choices=[0, 2, 4],
                   help="per-identity upscaler factor, 0 for none (default: from the quality level)")
    stop = t.add_mutually_exclusive_group()
    stop.add_argument("--minutes", type=float, metavar="M",
                      help="total training time (default 30 on CPU, 8 on a CUDA GPU); re-running with more continues")
    stop.add_argument("--iterations", type=int, metavar="N", help="train to N iterations instead of for a time")
    t.add_argument("--batch-size", type=int, help="training batch size (model default)")
    t.add_argument("--save-every", type=int, default=250, metavar="N", help="checkpoint every N iterations (default 250)")
    t.add_argument("--every", type=int, metavar="N",
                   help="use every Nth frame of SOURCE (default: every frame, or about 3000 frames of a long video)")
    t.add_argument("--device", default="auto", choices=DEVICES)
    add_blend_options(p)
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .runner import swap

    if args.save_every < 1:
        from ..errors import InputError

        raise InputError("--save-every must be at least 1")
    return swap(args.source, args.target, args.output, workdir=args.workdir, model=args.model, minutes=args.minutes,
                quality=args.quality, upscale=args.upscale,
                iterations=args.iterations, device=args.device, every=args.every, batch_size=args.batch_size,
                save_every=args.save_every, overwrite=args.overwrite, **blend_kwargs(args))
