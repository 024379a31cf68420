"""CLI for `facesmith convert`: its options are `ConvertOptions` (convert/options.py)."""

from __future__ import annotations

import argparse
from typing import Any

from ..options import add_options, options_of
from .options import BLEND_OPTIONS, OUTPUT_OPTIONS, ConvertOptions


def add_blend_options(p: argparse.ArgumentParser) -> None:
    """The blending and output options, shared with `facesmith swap`."""
    add_options(p.add_argument_group("blending"), ConvertOptions, BLEND_OPTIONS)
    add_options(p.add_argument_group("output"), ConvertOptions, OUTPUT_OPTIONS)


def blend_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The convert options add_blend_options defines (--overwrite excepted), as keyword arguments."""
    return {k: getattr(args, k) for k in (*BLEND_OPTIONS, *OUTPUT_OPTIONS) if k != "overwrite"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "convert", help="swap the faces of a video, photo or folder of photos with a trained model",
        description="Run the model on every aligned face of TARGET and blend the result back. Uses the "
                    "alignments `facesmith extract` saved for TARGET when there are some (found through the "
                    "model's facesets, or --alignments), else detects faces on the fly. The output is "
                    "written under a temporary name and renamed when complete.")
    p.add_argument("target", metavar="TARGET", help="video, photo or folder of photos")
    p.add_argument("-m", "--model", dest="model_dir", required=True, metavar="MODEL_DIR",
                   help="model folder (from `facesmith train`)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output video (.mp4/.mov/.mkv), photo, or folder (PNG frames); a .png with --preview")
    add_options(p, ConvertOptions, ("direction", "alignments", "start", "end", "detect", "detector", "preview"))
    add_blend_options(p)
    add_options(p, ConvertOptions, ("batch_size", "device", "precision", "threads"))
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .pipeline import convert

    return convert(args.target, args.model_dir, args.output, **options_of(args, ConvertOptions))
