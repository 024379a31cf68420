"""CLI for `facesmith swap`."""

from __future__ import annotations

import argparse
from typing import Any

from ..convert.command import add_blend_options, blend_kwargs
from ..options import add_options, options_of
from ..train.options import TrainOptions
from .options import TRAIN_PASSTHROUGH, SwapOptions


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
    add_options(p, SwapOptions, ("workdir",))
    t = p.add_argument_group("training")
    add_options(t, SwapOptions, ("quality", "model", "upscale"))
    add_options(t.add_mutually_exclusive_group(), SwapOptions, ("minutes", "iterations"))
    add_options(t, SwapOptions, ("batch_size", "save_every", "every", "device"))
    add_options(t, TrainOptions, TRAIN_PASSTHROUGH)
    add_blend_options(p)
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .runner import swap

    train = {k: getattr(args, k) for k in TRAIN_PASSTHROUGH}
    return swap(args.source, args.target, args.output, overwrite=args.overwrite, **options_of(args, SwapOptions),
                **train, **blend_kwargs(args))
