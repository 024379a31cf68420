"""CLI for `facesmith live`."""

from __future__ import annotations

import argparse
from typing import Any

from ..engine.names import COLORS, MASKS
from ..errors import InputError
from ..face import SAME_PERSON_THRESHOLD
from ..media.encoding import PRESETS
from .controls import FACE_CHOICES


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or not (16 <= int(w) <= 8192 and 16 <= int(h) <= 8192):
        raise argparse.ArgumentTypeError(f"--size wants WIDTHxHEIGHT such as 640x480, not {text!r}")
    return int(w), int(h)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "live", help="real-time face swap from a camera, file or stream to a virtual camera, file, stream or preview",
        description="Swap faces as frames arrive, never falling behind the source: stale frames are dropped "
                    "(and counted), the newest is always processed next. Outputs are marked as synthetic "
                    "(watermark in the swapped faces, tags and C2PA on recordings). Stop with q, Ctrl-C or "
                    "SIGTERM: recordings are closed and playable.")
    p.add_argument("-m", "--model", dest="model_dir", required=True, metavar="MODEL_DIR",
                   help="model folder (from `facesmith train`)")
    p.add_argument("-i", "--input", required=True, metavar="SRC",
                   help="camera (/dev/videoN or an index), video file, or stream URL (rtsp, rtmp, udp, tcp, http)")
    p.add_argument("-o", "--output", action="append", required=True, metavar="DST",
                   help="repeatable: OUT.mp4|.mov|.mkv (recording), udp://|tcp://|srt://HOST:PORT (MPEG-TS), "
                        "rtmp://URL, vcam[:/dev/videoN] (virtual camera), preview[:PORT] (MJPEG and controls "
                        "on 127.0.0.1; port 0 picks a free one)")
    src = p.add_argument_group("source")
    src.add_argument("--size", type=_size, metavar="WxH", help="camera capture size to ask for, e.g. 640x480")
    src.add_argument("--fps", type=float, help="camera frame rate to ask for")
    src.add_argument("--realtime", dest="realtime", action="store_true", default=None,
                     help="play a file at its own pace (the default for files)")
    src.add_argument("--no-realtime", dest="realtime", action="store_false",
                     help="play a file as fast as it can be swapped (no frame dropped)")
    src.add_argument("--reconnect", type=int, default=0, metavar="N",
                     help="when the source fails or stalls, open it again up to N times in a row, with back-off "
                          "0.5, 1, 2 .. 8 s (default 0: stop)")
    src.add_argument("--open-timeout", type=float, default=10.0, metavar="S", help="seconds to open the source")
    src.add_argument("--stall-timeout", type=float, default=5.0, metavar="S",
                     help="seconds without a frame that count as a stall (default 5)")
    src.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of output")
    g = p.add_argument_group("swap (all but --direction can be changed while running)")
    g.add_argument("--direction", choices=["a2b", "b2a"], default="b2a",
                   help="b2a draws faces of B as A (default)")
    g.add_argument("--faces", choices=FACE_CHOICES, default="largest",
                   help="which faces to swap: the largest (default), all, or those of the trained identity")
    g.add_argument("--threshold", type=float, default=SAME_PERSON_THRESHOLD, help="identity distance for --faces identity")
    g.add_argument("--mask", choices=MASKS, default="auto", help="face mask (as convert)")
    g.add_argument("--color", choices=COLORS, default="reinhard", help="colour matching (as convert)")
    g.add_argument("--erode", type=float, metavar="PX", help="shrink the mask by PX (default: 3%% of the face)")
    g.add_argument("--feather", type=float, metavar="PX", help="soft edge width (default: 8%% of the face)")
    g.add_argument("--swap-off", dest="swap", action="store_false", help="start with the swap turned off")
    g.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="do not watermark the swapped faces (recordings are still tagged as synthetic)")
    g.add_argument("--no-keys", dest="keys", action="store_false", help="do not read keys from the terminal")
    o = p.add_argument_group("outputs")
    o.add_argument("--crf", type=float, default=20, help="H.264 quality of a recording (default 20)")
    o.add_argument("--preset", choices=PRESETS, default="veryfast", help="x264 preset of a recording")
    o.add_argument("--overwrite", action="store_true", help="replace a recording that exists")
    o.add_argument("--vcam-backend", metavar="NAME", help="pyvirtualcam backend (default: the first that works)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument("--threads", type=int, default=0, metavar="N", help="model threads (default: half the cores)")
    p.add_argument("--detector", default="blazeface", help="face detector (default blazeface)")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from .controls import Settings
    from .session import live
    from .sinks import parse_output
    from .sources import parse_source

    if args.reconnect < 0 or args.threads < 0:
        raise InputError("--reconnect and --threads must be 0 or more")
    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be more than 0 seconds")
    source = parse_source(args.input, realtime=args.realtime, size=args.size, fps=args.fps,
                          open_timeout=args.open_timeout, stall_timeout=args.stall_timeout)
    outputs = [parse_output(text, args.overwrite) for text in args.output]
    files = [o.target for o in outputs if o.kind == "file"]
    if len(set(files)) != len(files):
        raise InputError("the same recording is given twice")
    if source.kind == "file" and any(_same_file(source.target, f) for f in files):
        raise InputError("the recording would overwrite the source; choose another output path")
    settings = Settings(swap=args.swap, mask=args.mask, color=args.color, erode=args.erode, feather=args.feather,
                        faces=args.faces)
    return live(args.model_dir, source, outputs, settings, direction=args.direction, device=args.device,
                precision=args.precision, threads=args.threads, watermark=args.watermark, detector=args.detector,
                threshold=args.threshold, crf=args.crf, preset=args.preset, reconnect=args.reconnect,
                duration=args.duration, vcam_backend=args.vcam_backend, keys=args.keys)


def _same_file(a: str, b: str) -> bool:
    import os

    return os.path.realpath(a) == os.path.realpath(b)
