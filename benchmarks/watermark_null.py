"""The watermark's false-positive calibration on clean media: every frame of every shared video and
every shared image must read "not marked", and the statistics the verdict rests on must follow their
null distributions.

    .venv/bin/python benchmarks/watermark_null.py [--every 1] [--limit-frames N]

Per file: every frame read as verify reads it (all faces, per layer); the whole-file decision
(`evidence.decode_faces` over all of its frames) and each frame's own decision. Printed per file: faces,
frames, whether anything decoded, the best candidate's matched check bits and its null p-value, and
the decision's false-positive rate. Then the calibration: on every clean face, the v2 hard decision's
matched check bits should be Binomial(32, 1/2) (mean 16, variance 8) and each soft bit's sign a fair
coin; the best of 2048 candidates per file should match ~25 (`evidence.check_match_p`). The v3 presence
test (`evidence.presence_test`) must stay below its threshold on every file and frame, and its z, per
file and per frame, is printed against its bound (share with p <= 0.01 / 0.1). And the
test for a named model's mark (`evidence.model_tests`, verify --model) against --models random model
fingerprints per file: none may be found, and its reported probability must be conservative (p <= a
on at most a share a of the (file, model) pairs).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from facesmith import progress
from facesmith.media.images import read_image
from facesmith.media.video import iter_frames
from facesmith.provenance import evidence
from facesmith.provenance.verify import MarkReader

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEDIA = {".jpg", ".jpeg", ".png", ".mp4"}


def frames_of(path: Path, every: int, limit: int | None):
    if path.suffix.lower() == ".mp4":
        for n, frame in enumerate(iter_frames(path, every=every)):
            if limit is not None and n >= limit:
                return
            yield frame.index, frame.image
    else:
        yield 0, read_image(path)


def print_presence(per_file: list[float], per_frame: list[float]) -> None:
    for what, values in (("file", per_file), ("frame", per_frame)):
        if values:
            q = np.array(values)
            print(f"v3 presence test per {what}, {len(q)}: found {int((q <= evidence.PRESENCE_ALPHA).sum())}, smallest p "
                  f"{q.min():.1e}; share with p <= 0.01: {np.mean(q <= 0.01):.4f}, <= 0.1: {np.mean(q <= 0.1):.3f} "
                  "(a calibrated bound: at most 0.01 and 0.1)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=1, help="read every Nth video frame (1: all)")
    ap.add_argument("--limit-frames", type=int, default=None)
    ap.add_argument("--models", type=int, default=1000, help="random model fingerprints tested per file")
    args = ap.parse_args()
    progress.QUIET = True
    reader = MarkReader()
    files = sorted(p for p in SHARED.rglob("*") if p.suffix.lower() in MEDIA)
    hard_matches, signs = [], []
    false_files = false_frames = total_frames = total_faces = 0
    worst_p = 1.0
    rng = np.random.default_rng(0)
    named_p: list[float] = []
    presence_file: list[float] = []
    presence_frame: list[float] = []
    start = time.perf_counter()
    for path in files:
        faces, frames = [], 0
        for index, image in frames_of(path, args.every, args.limit_frames):
            frames += 1
            read = [(index, f) for f in reader.read(image)]
            faces += read
            if read:
                frame_mark = evidence.decode_faces(read, 1)
                false_frames += frame_mark["found"]
                presence_frame.append(frame_mark.get("presence_p", 1.0))
            for _, f in read:
                hard = (f["v2"] > 0).astype(np.uint8)
                hard_matches.append(int(evidence.check_matches(hard[None])[0]))
                signs.append(hard)
        total_frames += frames
        total_faces += len(faces)
        mark = evidence.decode_faces(faces, frames)
        false_files += mark["found"]
        if faces:
            presence_file.append(mark.get("presence_p", 1.0))
        worst_p = min(worst_p, mark.get("p_value", 1.0))
        if faces:  # one model at a time, as `verify --model M` tests it
            named_p += [evidence.model_tests(faces, [f"{k:08x}"])[0]["false_positive_probability"]
                        for k in rng.integers(0, 2 ** 32, args.models)]
        if path.suffix.lower() == ".mp4" or mark["found"]:
            print(f"{path.relative_to(SHARED)}: {frames} frames, {len(faces)} faces, "
                  f"{'MARKED (false positive)' if mark['found'] else 'not marked'}, best candidate "
                  f"{mark.get('check_bits_matched', '-')}/32 check bits (null p {mark.get('p_value', 1.0):.2f}), "
                  f"presence z {mark.get('presence_z', 0.0):.2f} (p {mark.get('presence_p', 1.0):.2f}), "
                  f"decision false-positive rate {mark['false_positive_rate']:.1e}", flush=True)
    m = np.array(hard_matches)
    s = np.array(signs) if signs else np.zeros((0, 64))
    print(f"\n{len(files)} files, {total_frames} frames, {total_faces} faces in {time.perf_counter() - start:.0f} s")
    print(f"false positives: {false_files} files, {false_frames} frames (of {total_frames}); "
          f"smallest whole-file null p-value {worst_p:.3f}; decision false-positive rate "
          f"{evidence.FALSE_POSITIVE_RATE:.1e} per file")
    if named_p:
        q = np.array(named_p)
        print(f"named-model test, {len(q)} (file, random model) pairs: found {int((q <= evidence.MODEL_TEST_ALPHA).sum())}, "
              f"smallest p {q.min():.1e}; share with p <= 0.01: {np.mean(q <= 0.01):.4f}, <= 0.1: {np.mean(q <= 0.1):.3f} "
              f"(a calibrated bound: at most 0.01 and 0.1)")
    print_presence(presence_file, presence_frame)
    if len(m):
        print(f"per-face hard-decision check bits matched: mean {m.mean():.2f} (null 16), variance "
              f"{m.var():.2f} (null 8), max {m.max()} (null P(max >= that over {len(m)} faces) = "
              f"{evidence.check_match_p(int(m.max()), len(m)):.2f})")
        ones = s.mean(0)
        print(f"per-bit share of 1s over faces: {ones.min():.3f}..{ones.max():.3f} (null 0.5 +- "
              f"{2 / math.sqrt(4 * len(s)):.3f} at 2 sigma, faces of one shot are not independent)")


if __name__ == "__main__":
    main()
