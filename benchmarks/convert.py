"""Convert speed against a plain decode + re-encode of the same file, measured in the same run.

    .venv/bin/python benchmarks/convert.py [--model-dir MODEL] [--preset veryfast] [--crf 18]

For each file, with the same encoder settings:
- transcode: PyAV decode -> libx264 encode, frames never leave YUV (what FFmpeg alone does);
- decode+encode: facesmith's decode to upright BGR -> facesmith's writer (BGR -> YUV, x264, audio
  copied): the same path convert takes, without the faces. This is the limit convert is held to;
- convert: the real thing with the `lite` model (untrained weights unless --model-dir: the work is the
  same), faces from stored alignments (the `swap` path) and detected on the fly, watermark on and off.

Goal (issue 4): convert >= 0.6 x decode+encode frames/s on 2 cores with the lite model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av

import facesmith
from facesmith import progress
from facesmith.convert.pipeline import _threaded
from facesmith.convert.writer import VideoWriter
from facesmith.media.video import iter_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
FILES = ["identity_b.mp4", "two_people_720p.mp4"]
GOAL = 0.6


def transcode_fps(path: Path, out: Path, preset: str, crf: float) -> float:
    with av.open(str(path)) as src, av.open(str(out), "w") as dst:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        enc = dst.add_stream("libx264", rate=stream.average_rate)
        enc.width, enc.height, enc.pix_fmt = stream.width, stream.height, "yuv420p"
        enc.options = {"preset": preset, "crf": str(crf)}
        start, n = time.perf_counter(), 0
        for frame in src.decode(stream):
            frame.pict_type = av.video.frame.PictureType.NONE
            dst.mux(enc.encode(frame))
            n += 1
        dst.mux(enc.encode())
    return n / (time.perf_counter() - start)


def decode_encode_fps(path: Path, out: Path, preset: str, crf: float) -> float:
    start, n = time.perf_counter(), 0
    writer = VideoWriter(out, path, crf=crf, preset=preset)
    for fr in _threaded(iter_frames(path)):
        writer.write(fr.image, fr.time)
        n += 1
    writer.close()
    return n / (time.perf_counter() - start)


def make_model(root: Path) -> Path:
    """A lite model (1 iteration: untrained, but the same compute) whose faceset B holds identity_b."""
    faces_a, faces_b, model = root / "a", root / "b", root / "model"
    facesmith.extract([SHARED / "identity_a.mp4"], faces_a, every=10)
    facesmith.extract([SHARED / "identity_b.mp4"], faces_b)
    facesmith.train(faces_a, faces_b, model, model="lite", iterations=1, preview_every=1000, save_every=1000)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", help="a trained lite model whose faceset B is identity_b (default: make one)")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--crf", type=float, default=18)
    args = ap.parse_args()
    progress.QUIET = True
    with tempfile.TemporaryDirectory(prefix="facesmith-bench-convert-") as tmp_name:
        tmp = Path(tmp_name)
        model = Path(args.model_dir) if args.model_dir else make_model(tmp / "m")
        two = tmp / "two_faces"
        facesmith.extract([SHARED / "two_people_720p.mp4"], two)
        print(f"preset {args.preset}, crf {args.crf}; fps = frames/s, ratio = convert / decode+encode")
        print(f"{'file':22} {'transcode':>9} {'dec+enc':>8} {'convert (faces from)':>32} {'fps':>6} {'ratio':>6}")
        for name in FILES:
            path = SHARED / name
            out = tmp / f"out_{name}"
            plain = transcode_fps(path, out, args.preset, args.crf)
            limit = decode_encode_fps(path, out, args.preset, args.crf)
            aligned = {"alignments": str(two)} if name.startswith("two") else {}
            runs = [("alignments", aligned), ("alignments, no watermark", {**aligned, "watermark": False}),
                    ("detected on the fly", {"detect": True})]
            for label, opts in runs:
                start = time.perf_counter()
                s = facesmith.convert(path, model, out, overwrite=True, all_faces=True, crf=args.crf,
                                      preset=args.preset, **opts)
                fps = s["frames"] / (time.perf_counter() - start)
                ratio = fps / limit
                flag = f"  goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}" if label == "alignments" else ""
                print(f"{name:22} {plain:9.1f} {limit:8.1f} {label:>32} {fps:6.1f} {ratio:6.2f}"
                      f"  ({s['faces_swapped']} faces, model {s['model_seconds']:.1f} s, "
                      f"blend {s['blend_seconds']:.1f} s){flag}")


if __name__ == "__main__":
    main()
