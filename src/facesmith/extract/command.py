"""CLI for `facesmith extract`."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ..options import add_options, options_of
from .options import ExtractOptions


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "extract",
        help="detect, align and save the faces of videos, images and folders",
        description="Detect every face, fit 68 landmarks, align it onto a mean face and save the crop "
        "(with its metadata inside the file) into FACESET_DIR, plus an alignments store that convert uses. "
        "Re-running continues where a previous run stopped.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="video files, image files or folders of images")
    p.add_argument("-o", "--output", metavar="FACESET_DIR", help="faceset folder (created if needed)")
    add_options(p, ExtractOptions)
    p.add_argument("--from-faceset", metavar="DIR",
                   help="re-cut the faces of an existing faceset at --size from its alignments, without detecting")
    p.add_argument("--list-detectors", action="store_true", help="list the available detectors and landmarkers")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.list_detectors:
        from ..face.detect import available_detectors
        from ..face.landmarks import available_landmarkers

        return {"detectors": available_detectors(), "landmarkers": available_landmarkers()}
    if not args.output:
        raise InputError("give the faceset folder to write with -o FACESET_DIR")
    if args.from_faceset:
        from .reextract import reextract

        return reextract(args.from_faceset, args.output, size=args.size, inputs=args.inputs,
                         image_format=args.image_format).to_dict()
    if not args.inputs:
        raise InputError("give at least one INPUT (video, image or folder), or --from-faceset DIR")
    from .pipeline import extract

    return extract(args.inputs, args.output, **options_of(args, ExtractOptions)).to_dict()
