"""CLI for `facesmith convert`."""

from __future__ import annotations

import argparse
from typing import Any

from ..media.encoding import PRESETS
from .names import COLORS, MASKS


def add_blend_options(p: argparse.ArgumentParser) -> None:
    """Options shared with `facesmith swap`."""
    g = p.add_argument_group("blending")
    g.add_argument("--mask", choices=MASKS, default="auto",
                   help="face mask: landmark hull, the model's learned mask, or both (auto: both when the model "
                        "learns a mask, else hull)")
    g.add_argument("--erode", type=float, metavar="PX",
                   help="shrink the mask by PX output pixels, negative grows it (default: 3%% of the face)")
    g.add_argument("--feather", type=float, metavar="PX", help="width of the soft mask edge in output pixels "
                   "(default: 8%% of the face)")
    g.add_argument("--color", choices=COLORS, default="reinhard",
                   help="colour matching to the target face: reinhard (Lab mean/std, default), histogram, "
                        "seamless (Poisson clone) or none")
    g.add_argument("--sharpen", type=float, default=0.0, metavar="AMOUNT", help="unsharp-mask amount, 0..5 (default 0)")
    g.add_argument("--smooth", type=int, default=2, metavar="N",
                   help="average each face's alignment over +-N frames against jitter (0: off; default 2)")
    g.add_argument("--all-faces", action="store_true",
                   help="swap every face, not only those that look like the trained identity")
    g.add_argument("--threshold", type=float, default=0.6,
                   help="identity distance under which a face counts as the trained person (default 0.6)")
    o = p.add_argument_group("output")
    o.add_argument("--crf", type=float, default=18, help="H.264 quality: 0 lossless .. 51 worst (default 18)")
    o.add_argument("--preset", choices=PRESETS, default="veryfast", help="x264 speed preset (default veryfast)")
    o.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    o.add_argument("--allow-empty", action="store_true",
                   help="write the output even when no face was swapped (default: refuse)")
    o.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="do not watermark the swapped faces' pixels (the output is still tagged as synthetic)")


def blend_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The convert options add_blend_options defines (--overwrite excepted), as keyword arguments."""
    return {k: getattr(args, k) for k in (
        "mask", "erode", "feather", "color", "sharpen", "smooth", "all_faces", "threshold", "crf", "preset",
        "allow_empty", "watermark")}


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
    p.add_argument("--direction", choices=["auto", "a2b", "b2a"], default="auto",
                   help="which way to swap: b2a draws B's faces as A (auto: the side whose faceset holds "
                        "TARGET, else b2a)")
    p.add_argument("--alignments", metavar="FACESET_DIR", help="faceset folder holding TARGET's alignments")
    p.add_argument("--detect", action="store_true",
                   help="ignore stored alignments and detect the faces again (also: --detector NAME)")
    p.add_argument("--detector", default="blazeface", help="face detector when detecting (default blazeface)")
    p.add_argument("--preview", type=int, default=0, metavar="N",
                   help="write a before/after PNG sheet of N sampled frames instead of converting")
    add_blend_options(p)
    p.add_argument("--batch-size", type=int, default=16, help="faces per model batch (default 16)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="model arithmetic (auto: bf16 where the hardware has it natively, else fp32)")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads for the model (default: half the cores; decoding and encoding use the rest)")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .pipeline import convert

    return convert(args.target, args.model_dir, args.output, direction=args.direction,
                   alignments=args.alignments, detect=args.detect, detector=args.detector, preview=args.preview, overwrite=args.overwrite,
                   batch_size=args.batch_size, device=args.device, precision=args.precision,
                   threads=args.threads, **blend_kwargs(args))
