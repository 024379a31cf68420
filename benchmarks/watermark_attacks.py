"""The watermark against what platforms do to video: per attack, per-face bit accuracy, the whole-file
verdict and its false-positive probability.

    .venv/bin/python benchmarks/watermark_attacks.py [--frames 24] [--clip identity_b.mp4 ...] [--attack NAME ...]

Each clip's first `--frames` frames (every 3rd: a 10 fps clip of the whole source) are marked as convert marks them (faces found
by the extractor's detector + landmarks, `Marker.mark` with the landmark re-fit) and written at H.264
CRF 18: the "published" output. Each attack of `provenance.attacks.ATTACKS` turns its decoded frames
into a new file, which is read as `verify` reads it (re-detected faces, 30 evenly spaced frames):

- faces: faces found / faces marked (a face the detector misses after the attack carries nothing);
- bit acc: mean over the faces found of the share of payload bits the face reads right on its own,
  and the share of faces reading >= 0.95;
- verdict: whether the whole file verifies as marked with the right payload (`decode_faces`; "fp?":
  marked, but v3's fingerprint bits read wrong), the false-positive probability it reports (a clean
  file passes that test with that probability), v3's estimated certainty of the fingerprint read
  ("fp sure") and its presence z; chk: v2's check bits matched by the best candidate;
- named: the same file tested for the marking model's mark alone (`evidence.model_tests`, what
  `verify --model` adds): the false-positive probability of that test, found when <= 1e-6.

With --model MODEL_DIR the clips are converted by that model instead (the first --frames frames at
30 fps, every face swapped): the output convert writes, marked by convert itself.

two_people_720p.mp4 has ~104-px faces (aligned-crop scale), identity_b.mp4 ~190 px.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from facesmith import progress
from facesmith.face import FaceReader
from facesmith.media.images import read_image
from facesmith.media.video import iter_frames
from facesmith.provenance import Marker, evidence, model_fingerprint, payload, watermark
from facesmith.provenance.attacks import ATTACKS, Attack, by_name, encode
from facesmith.provenance.verify import MarkReader, decode_faces, read_marks

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
FINGERPRINT = "5ca1ab1e0ddba11c"
CLIPS = ["identity_b.mp4", "two_people_720p.mp4"]
FPS = 10.0  # every 3rd frame of a 30 fps clip


def marked_output(clip: Path, frames: int, folder: Path, scheme: watermark.Scheme) -> tuple[Path, int]:
    """The clip's first `frames` frames marked and written at CRF 18; faces marked."""
    reader, marker = FaceReader(), Marker(FINGERPRINT, scheme=scheme)
    marked, faces = [], 0
    for frame in iter_frames(clip, every=3):
        points = [f.landmarks for f in reader.find(frame.image)]
        faces += len(points)
        marked.append(marker.mark(frame.image, points, follows_previous=True))
        if len(marked) == frames:
            break
    return encode(marked, folder / f"marked_{clip.stem}.mp4", FPS, 18), faces


def converted_output(clip: Path, frames: int, folder: Path, model: Path) -> tuple[Path, int]:
    """The clip's first `frames` frames (all of them, at the clip's rate) converted by `model`, every
    face swapped: a real output, marked by convert itself."""
    import facesmith

    cut = encode([f.image for f, _ in zip(iter_frames(clip), range(frames), strict=False)],
                 folder / f"cut_{clip.stem}.mp4", 30.0, 16)
    out = folder / f"converted_{clip.stem}.mp4"
    summary = facesmith.convert(cut, model, out, all_faces=True, overwrite=True)
    return out, int(summary["faces_swapped"])


def read_attacked(path: Path, reader: MarkReader) -> tuple[list[tuple[int, np.ndarray]], int]:
    if path.is_dir():  # JPEG frames: one "file" whose frames are stills
        faces = []
        stills = sorted(path.glob("*.jpg"))
        for n, still in enumerate(stills):
            faces += [(n, soft) for soft in reader.read(read_image(still))]
        return faces, len(stills)
    return read_marks(path, "video", reader)  # as verify reads: 30 frames, evenly spaced


def measure(attack: Attack, frames: list[np.ndarray], marked_faces: int, folder: Path,
            reader: MarkReader, scheme: watermark.Scheme, fps: float = FPS, fingerprint: str = FINGERPRINT) -> dict:
    expected = payload.encode_for(scheme.version, fingerprint)
    faces, count = read_attacked(attack.apply(frames, fps, folder), reader)
    mark = decode_faces(faces, count)
    (named,) = evidence.model_tests(faces, [fingerprint]) if scheme.version > 1 else [{"false_positive_probability": 1.0}]
    found = mark["found"] and mark["layer"].startswith(f"v{scheme.version}")  # in the format marked
    layer = mark["layer"] if found else f"v{scheme.version}"
    acc = np.array([((f[layer] > 0) == expected).mean() for _, f in faces]) if faces else np.zeros(1)
    right = found and mark["payload"]["model"] == fingerprint[: len(mark["payload"]["model"])]
    verdict = "MARKED" if right else ("MARKED, fp?" if found else ("WRONG" if mark["found"] else "not marked"))
    return {"attack": attack.name, "faces": f"{len(faces)}/{marked_faces * count // len(frames)}",
            "bit_acc": float(acc.mean()), "faces_095": float((acc >= 0.95).mean()), "verdict": verdict,
            "p_fp": mark.get("false_positive_probability", mark["false_positive_rate"]),
            "certainty": mark["payload"].get("certainty", 1.0) if found else 0.0,
            "matched": mark.get("check_bits_matched", -1), "presence_z": mark.get("presence_z", 0.0),
            "named_p": named["false_positive_probability"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90, help="frames marked (every 3rd of the clip)")
    ap.add_argument("--clip", nargs="+", default=CLIPS)
    ap.add_argument("--model", type=Path, help="convert the clips with this model instead of marking real "
                    "frames (the first --frames frames at 30 fps; the fingerprint is the model's)")
    ap.add_argument("--scheme", type=int, default=watermark.WRITTEN.version, choices=sorted(watermark.SCHEMES),
                    help="watermark format to mark with (not with --model: convert marks in the format it writes)")
    ap.add_argument("--attack", nargs="+", default=[a.name for a in ATTACKS], help="names from attacks.ATTACKS")
    args = ap.parse_args()
    progress.QUIET = True
    reader = MarkReader()
    with tempfile.TemporaryDirectory(prefix="facesmith-bench-attacks-") as tmp:
        os.environ.setdefault("FACESMITH_HOME", str(Path(tmp) / "home"))
        for clip in args.clip:
            folder = Path(tmp) / Path(clip).stem
            folder.mkdir()
            scheme = watermark.SCHEMES[args.scheme]
            if args.model:
                out, marked_faces = converted_output(SHARED / clip, args.frames, folder, args.model)
            else:
                out, marked_faces = marked_output(SHARED / clip, args.frames, folder, scheme)
            fps = 30.0 if args.model else FPS
            fingerprint = model_fingerprint(args.model) if args.model else FINGERPRINT
            frames = [f.image for f in iter_frames(out)]
            print(f"\n{clip}: {len(frames)} frames, {marked_faces} faces marked")
            print(f"{'attack':26s} {'faces':>7s} {'bit acc':>8s} {'>=0.95':>7s} {'verdict':>11s} {'p(FP)':>9s} "
                  f"{'fp sure':>7s} {'z':>5s} {'chk':>3s} {'named':>8s} {'s':>5s}")
            for name in args.attack:
                start = time.perf_counter()
                r = measure(by_name(name), frames, marked_faces, folder, reader, scheme, fps, fingerprint)
                print(f"{r['attack']:26s} {r['faces']:>7s} {r['bit_acc']:8.3f} {r['faces_095']:7.0%} "
                      f"{r['verdict']:>11s} {r['p_fp']:9.1e} {r['certainty']:7.3f} {r['presence_z']:5.1f} {r['matched']:3d} "
                      f"{r['named_p']:8.0e} {time.perf_counter() - start:5.1f}", flush=True)


if __name__ == "__main__":
    main()
