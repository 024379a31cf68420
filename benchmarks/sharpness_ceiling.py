"""The sharpness a perfect model of each size could reach: the ceiling behind issue 15's ratio.

    .venv/bin/python benchmarks/sharpness_ceiling.py                    # identity_b, sizes 64,128,256
    .venv/bin/python benchmarks/sharpness_ceiling.py --target ../shared/data/video/two_people_720p.mp4

A model that drew the target's own face without any error, at S px, is what convert pastes when the
model's output IS its input crop (the target's face, cut and reduced to S px as the model sees it).
Converting the target with that "oracle" through the real pipeline (crop, paste, mask, colour, the
watermark) and measuring it with `facesmith evaluate` gives, per S, the best face-box sharpness ratio
and face PSNR/SSIM any S px model can reach on this clip, and what the paste itself costs (S = the
face's size in the frame). A trained model's figures are read against this line, not against 1.0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import facesmith
import facesmith.convert.pipeline as pipeline

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"


def oracle_loader(size: int) -> Callable[..., tuple[Any, dict]]:
    """convert's model loader, giving a model whose output is its input crop at `size` px."""
    real = pipeline.load_swap_model

    def load(model_dir: str | Path, device: str = "cpu") -> tuple[Any, dict]:
        model, config = real(model_dir, device)
        model.config = {**model.config, "size": size}
        model.swap = lambda x, direction="a2b": (x, None)  # the target's own face, at S px
        model.upscaler = None
        return model, config

    return load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", type=Path, default=DATA / "identity_b.mp4")
    p.add_argument("--other", type=Path, default=DATA / "identity_a.mp4", help="the model's other side (any face)")
    p.add_argument("--sizes", default="64,128,256")
    p.add_argument("--frames", type=int, default=30, help="frames evaluate samples (default 30)")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    wd = args.workdir or Path(tempfile.mkdtemp(prefix="facesmith-ceiling-"))
    faces_t, faces_o, model = wd / "faces_target", wd / "faces_other", wd / "model"
    if not (faces_t / "alignments.json").exists():
        facesmith.extract([args.target], faces_t)
    if not (faces_o / "alignments.json").exists():
        facesmith.extract([args.other], faces_o, every=8)
    if not (model / "config.json").exists():  # the loader needs a real model folder; its weights are not used
        facesmith.train(faces_o, faces_t, model, iterations=2, batch_size=4)
    real, rows = pipeline.load_swap_model, []
    for size in (int(s) for s in args.sizes.split(",")):
        out = wd / f"oracle_{size}.mp4"
        pipeline.load_swap_model = oracle_loader(size)
        try:
            facesmith.convert(args.target, model, out, alignments=str(faces_t), overwrite=True)
        finally:
            pipeline.load_swap_model = real
        ev = facesmith.evaluate(args.target, out, faces_t, frames=args.frames, crops=wd / f"crops_{size}", overwrite=True)
        rows.append({"size": size, "sharpness_ratio": ev["sharpness_ratio"], "face_psnr": ev["face"]["face_psnr"],
                     "face_ssim": ev["face"]["face_ssim"], "background_db": ev["background_psnr"]})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{args.target.name}: what a perfect model of each size reaches (crops in {wd})")
    print(f"{'size':>6} {'sharpness':>10} {'face PSNR':>10} {'face SSIM':>10} {'bg dB':>7}")
    for r in rows:
        print(f"{r['size']:>6} {r['sharpness_ratio']:>10.3f} {r['face_psnr']:>10.2f} {r['face_ssim']:>10.4f} "
              f"{r['background_db']:>7.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
