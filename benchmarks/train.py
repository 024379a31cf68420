"""Training speed per model: samples/s, GFLOPs per sample and the fraction of a matmul peak.

    .venv/bin/python benchmarks/train.py [--seconds 20] [--models lite,original,hires] [--device cpu]

For each model at its default size and batch: one training step = forward of both sides, the
SSIM+L1 loss, backward and AdamW, on random faces (the data pipeline is measured separately).
"samples" are faces (both sides count). GFLOPs per sample = forward + backward of the model,
counted by torch's FlopCounterMode. The peak is a large fp32 matmul (bf16 too on CUDA), measured
in the same run (best of several timings, re-measured after each model, as other jobs on a shared
machine only ever slow things down; the step time is the 10th percentile, the median is printed too).
Prints figures only (no asserts).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from facesmith.models import available_models, create_model
from facesmith.train.losses import LossWeights, face_loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 3.0) -> float:
    """Best GFLOP/s of square matmuls (2048 and 4096 on CPU, where cache effects differ; 8192 on GPU)."""
    best = 0.0
    sizes = (2048, 4096) if device.type == "cpu" else (8192,)
    for n in sizes:
        a, b = torch.rand(n, n, device=device, dtype=dtype), torch.rand(n, n, device=device, dtype=dtype)
        a @ b
        sync(device)
        end = time.perf_counter() + seconds / len(sizes)
        while time.perf_counter() < end:  # best of several: the peak, not the average under noise
            t = time.perf_counter()
            a @ b
            sync(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best / 1e9


def flops_per_sample(name: str) -> float:
    model = create_model(name)
    s = model.config["size"]
    x = torch.rand(1, 3, s, s)
    with FlopCounterMode(display=False) as counter:
        y_a, _, y_b, _ = model(x, x)
        (y_a.mean() + y_b.mean()).backward()
    return counter.get_total_flops() / 2 / 1e9  # per face: the pass above holds one A and one B face


def bench_model(name: str, device: torch.device, seconds: float, amp: torch.dtype | None) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name)
    s, batch = model.config["size"], model.config["batch_size"]
    model = model.to(device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.5, 0.999))
    weights = LossWeights()

    def make() -> dict[str, torch.Tensor]:
        img = torch.rand(batch, 3, s, s, device=device).contiguous(memory_format=torch.channels_last)
        mask = (torch.rand(batch, 1, s, s, device=device) > 0.3).float()
        return {"input": img, "target": img, "mask": mask, "region": mask * 0}

    ba, bb = make(), make()

    def step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            y_a, m_a, y_b, m_b = model(ba["input"], bb["input"])
            loss = face_loss(y_a, m_a, ba, weights) + face_loss(y_b, m_b, bb, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(2):
        step()
    sync(device)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    # the fastest steps: on a shared machine other jobs only ever slow a step down
    step_s = float(np.percentile(times, 10))
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"batch": batch, "size": s, "params_m": params, "step_s": step_s, "samples_s": 2 * batch / step_s,
            "median_samples_s": 2 * batch / float(np.median(times))}


def bench_data(seconds: float = 5.0) -> None:
    """Augmented-batch throughput of the data pipeline on synthetic cached faces (one thread)."""
    from facesmith.train.augment import AugmentConfig, make_batch
    from facesmith.train.data import FaceSet

    n, s = 512, 64
    rng = np.random.default_rng(0)
    faces = FaceSet([], s, 0.875, np.arange(n), rng.integers(0, 255, (n, s, s, 3), np.uint8),
                    rng.integers(0, 255, (n, s, s), np.uint8), rng.integers(0, 255, (n, s, s), np.uint8),
                    np.tile(np.array([[50, 0, 0], [20, 5, 5]], np.float32), (n, 1, 1)))
    faces.paths = [None] * n  # type: ignore[list-item]
    count, it, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        make_batch(faces, faces, 0, 0, it, 32, AugmentConfig())
        count, it = count + 32, it + 1
    print(f"data pipeline (64 px, 1 thread): {count / (time.perf_counter() - t0):.0f} augmented faces/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="timed seconds per model")
    ap.add_argument("--models", default=",".join(available_models()))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    peak = matmul_peak(device, torch.float32)
    print(f"fp32 matmul peak: {peak:.0f} GFLOP/s")
    amp = None
    if device.type == "cuda":
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        peak = matmul_peak(device, amp)
        print(f"{str(amp).removeprefix('torch.')} matmul peak: {peak:.0f} GFLOP/s (training runs under autocast)")
    results = {}
    for name in args.models.split(","):
        gflop = flops_per_sample(name)
        r = bench_model(name, device, args.seconds, amp)
        achieved = gflop * r["samples_s"]
        results[name] = r["samples_s"]
        peak = max(peak, matmul_peak(device, amp or torch.float32, 2.0))  # re-measured: best seen in the run
        print(f"{name:9s} {r['size']:4d} px batch {r['batch']:3d}x2  {r['params_m']:6.1f} M params  "
              f"{gflop:7.2f} GFLOP/sample  {r['samples_s']:8.1f} samples/s (median {r['median_samples_s']:.1f})  "
              f"{r['step_s'] * 1000:7.0f} ms/step  {achieved:7.0f} GFLOP/s = {100 * achieved / peak:4.0f}% of peak "
              f"{peak:.0f}", flush=True)
    if "lite" in results and "original" in results:
        print(f"lite / original samples/s: {results['lite'] / results['original']:.1f}x")
    bench_data()


if __name__ == "__main__":
    main()
