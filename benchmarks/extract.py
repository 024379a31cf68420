"""Extraction speed against decode-only speed of the same file, measured in the same run.

    .venv/bin/python benchmarks/extract.py [--frames N]

Goal (issue 2): extraction at >= 0.4 of decode-only frames/s for single-face video on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av

import facesmith
from facesmith import progress

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
FILES = ["identity_a.mp4", "two_people_720p.mp4", "street_crowd_1080p.mp4"]
GOAL = 0.4


def decode_fps(path: Path) -> tuple[float, int]:
    """Frames/s of a bare PyAV decode to BGR arrays: what extraction cannot beat."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start, n = time.perf_counter(), 0
        for frame in container.decode(stream):
            frame.to_ndarray(format="bgr24")
            n += 1
    return n / (time.perf_counter() - start), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", default="blazeface")
    ap.add_argument("--landmarker", default="mesh")
    args = ap.parse_args()
    progress.QUIET = True
    print(f"{'file':26} {'frames':>6} {'decode fps':>11} {'extract fps':>12} {'ratio':>6} {'faces':>6} {'detector runs':>13}")
    for name in FILES:
        path = SHARED / name
        decode, n = decode_fps(path)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            s = facesmith.extract([path], tmp, detector=args.detector, landmarker=args.landmarker)
            fps = s.frames_read / (time.perf_counter() - start)
        ratio = fps / decode
        verdict = "met" if ratio >= GOAL else "NOT met"
        flag = f"  (goal >= {GOAL}: {verdict})" if name == "identity_a.mp4" else ""
        print(f"{name:26} {n:6d} {decode:11.1f} {fps:12.1f} {ratio:6.2f} {s.faces_saved:6d} {s.detector_runs:13d}{flag}")


if __name__ == "__main__":
    main()
