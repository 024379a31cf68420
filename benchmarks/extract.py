"""Extraction speed against decode-only speed of the same file, measured in the same run.

    .venv/bin/python benchmarks/extract.py [--frames N]

Goal (issue 2): extraction at >= 0.4 of decode-only frames/s for single-face video on 2 cores.
Each figure is the best of --repeat runs (this machine's speed drifts by +-15% between runs); the
extraction code is imported before timing, its models are loaded inside the timed call.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import av

import facesmith
from facesmith import progress

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
FILES = ["identity_a.mp4", "two_people_720p.mp4", "street_crowd_1080p.mp4"]
GOAL = 0.4
T = TypeVar("T")


def timed(run: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def best_of(repeat: int, run: Callable[[], tuple[float, T]]) -> tuple[float, T]:
    """(shortest seconds, result of that run); `run` returns (its seconds, its result)."""
    return min((run() for _ in range(repeat)), key=lambda r: r[0])


def decode_frames(path: Path) -> int:
    """Frames/s of a bare PyAV decode to BGR arrays: what extraction cannot beat."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        n = 0
        for frame in container.decode(stream):
            frame.to_ndarray(format="bgr24")
            n += 1
    return n


def extract_into_temp(path: Path, detector: str, landmarker: str) -> tuple[float, Any]:
    """Seconds of `facesmith.extract` alone (deleting the temporary faceset afterwards is not timed)."""
    with tempfile.TemporaryDirectory() as tmp:
        return timed(lambda: facesmith.extract([path], tmp, detector=detector, landmarker=landmarker))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", default="blazeface")
    ap.add_argument("--landmarker", default="mesh")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    progress.QUIET = True
    importlib.import_module("facesmith.extract.pipeline")  # what `facesmith extract` imports at start
    print(f"{'file':26} {'frames':>6} {'decode fps':>11} {'extract fps':>12} {'ratio':>6} {'faces':>6} {'detector runs':>13}")
    for name in FILES:
        path = SHARED / name
        seconds, n = best_of(args.repeat, functools.partial(timed, functools.partial(decode_frames, path)))
        decode = n / seconds
        seconds, s = best_of(args.repeat, functools.partial(extract_into_temp, path, args.detector, args.landmarker))
        fps = s.frames_read / seconds
        ratio = fps / decode
        verdict = "met" if ratio >= GOAL else "NOT met"
        flag = f"  (goal >= {GOAL}: {verdict})" if name == "identity_a.mp4" else ""
        print(f"{name:26} {n:6d} {decode:11.1f} {fps:12.1f} {ratio:6.2f} {s.faces_saved:6d} {s.detector_runs:13d}{flag}")


if __name__ == "__main__":
    main()
