"""CLI for `facesmith live`."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ..options import add_options, options_of
from .controls import Settings
from .options import LiveOptions


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
    add_options(src, LiveOptions, ["reconnect"])
    src.add_argument("--open-timeout", type=float, default=10.0, metavar="S", help="seconds to open the source")
    src.add_argument("--stall-timeout", type=float, default=5.0, metavar="S",
                     help="seconds without a frame that count as a stall (default 5)")
    add_options(src, LiveOptions, ["duration"])
    g = p.add_argument_group("swap (all but --direction can be changed while running)")
    add_options(g, LiveOptions, ["direction"])
    add_options(g, Settings)
    add_options(g, LiveOptions, ["threshold"])
    add_options(g, LiveOptions, ["watermark", "keys"])
    o = p.add_argument_group("outputs")
    add_options(o, LiveOptions, ["crf", "preset"])
    o.add_argument("--overwrite", action="store_true", help="replace a recording that exists")
    add_options(o, LiveOptions, ["vcam_backend"])
    add_options(p, LiveOptions, ["device", "precision", "threads", "detector"])
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
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
    settings = Settings(**options_of(args, Settings))
    return live(args.model_dir, source, outputs, settings, **options_of(args, LiveOptions))


def _same_file(a: str, b: str) -> bool:
    import os

    return os.path.realpath(a) == os.path.realpath(b)
