"""CLI for `facesmith extract`."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ..options import parse_time


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
    p.add_argument("--size", type=int, default=256, help="side of the aligned face in pixels, 64..1024 (default 256)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="process every Nth frame (default 1)")
    p.add_argument("--start", type=parse_time, help="start time in a video (seconds or M:S)")
    p.add_argument("--end", type=parse_time, help="end time in a video (seconds or M:S)")
    p.add_argument("--min-size", type=int, default=0, metavar="PX", help="skip faces smaller than PX pixels")
    p.add_argument("--max-faces", type=int, default=0, metavar="N", help="keep at most the N largest faces per frame")
    p.add_argument("--ref", nargs="+", default=[], metavar="IMAGE", help="keep only the person in these photos")
    p.add_argument("--threshold", type=float, default=0.6,
                   help="identity distance under which a face matches --ref (default 0.6)")
    p.add_argument("--detector", default="blazeface", help="face detector (see --list-detectors; default blazeface)")
    p.add_argument("--landmarker", default="mesh", help="68-point landmark model: mesh or dlib (default mesh)")
    p.add_argument("--no-smooth", dest="smooth", action="store_false", help="no temporal smoothing of landmarks")
    p.add_argument("--no-rotations", dest="rotations", action="store_false",
                   help="do not retry on rotated copies of frames where no face is found")
    p.add_argument("--format", dest="image_format", choices=["jpg", "png"], default="jpg", help="face image format")
    p.add_argument("--keep-partial", action="store_true",
                   help="keep the faces read from a truncated or corrupt video instead of discarding them")
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

    summary = extract(
        args.inputs, args.output, size=args.size, every=args.every, start=args.start, end=args.end,
        min_size=args.min_size, max_faces=args.max_faces, ref=args.ref, threshold=args.threshold,
        detector=args.detector, landmarker=args.landmarker, smooth=args.smooth, rotations=args.rotations,
        image_format=args.image_format, keep_partial=args.keep_partial,
    )
    return summary.to_dict()
