"""What the expression loss (`--expression-weight`) costs a training step: samples/s with and without it.

    .venv/bin/python benchmarks/expression_cost.py [--model liae] [--steps 20] [--threads 2]

One step = the training loop's step (forward of both sides, SSIM+L1, backward, AdamW) on random faces
at the model's default size and batch; "with" adds the expression loss as the loop does (B's first
FACES_PER_STEP faces drawn as A, the face mesh in torch on them, its backward). Steps alternate
with/without, so a shared machine's load hits both alike; per variant it prints the 10th percentile
and median wall time, CPU seconds per step (the load-independent figure: what the step costs, not
what the machine gave it) and samples/s. Prints figures only (no asserts).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from facesmith.models import create_model
from facesmith.train.expression import FACES_PER_STEP, ExpressionLoss
from facesmith.train.losses import LossWeights, face_loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="liae")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = create_model(args.model).to(memory_format=torch.channels_last)
    cfg = net.config
    n, s = cfg["batch_size"], cfg["size"]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    expression = ExpressionLoss(1.0, cfg["coverage"], torch.device("cpu"))
    weights = LossWeights()

    def batch() -> dict[str, torch.Tensor]:
        x = torch.rand(n, 3, s, s).contiguous(memory_format=torch.channels_last)
        return {"input": x, "target": x, "mask": torch.ones(n, 1, s, s), "region": torch.zeros(n, 1, s, s),
                "expression": torch.rand(n, 4, 1, 1)}

    def step(with_loss: bool) -> None:
        ba, bb = batch(), batch()
        y_a, m_a, y_b, m_b = net(ba["input"], bb["input"])
        total = face_loss(y_a, m_a, ba, weights) + face_loss(y_b, m_b, bb, weights)
        if with_loss:
            total = total + expression(net, bb, 10_000)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()

    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for i in range(2 * args.steps + 4):
        variant = bool(i % 2)
        t, c = time.perf_counter(), time.process_time()
        step(variant)
        if i >= 4:  # the first two of each: warm-up (oneDNN picks its kernels)
            times[variant].append((time.perf_counter() - t, time.process_time() - c))
    print(f"model {args.model} {s} px, batch {n}+{n}, {args.threads} threads; expression loss on "
          f"{FACES_PER_STEP} B faces per step")
    rates = {}
    for variant, label in ((False, "without"), (True, "with")):
        wall = np.array([w for w, _ in times[variant]])
        cpu = np.array([c for _, c in times[variant]])
        rates[variant] = 2 * n / np.percentile(wall, 10)
        print(f"{label:>8}: wall p10 {np.percentile(wall, 10):.3f} s, median {np.median(wall):.3f} s, "
              f"CPU {np.median(cpu):.3f} s/step, {rates[variant]:.1f} samples/s (p10), "
              f"{2 * n / np.median(cpu) * args.threads:.1f} samples/s at full use of {args.threads} cores")
    cpu_ratio = np.median([c for _, c in times[True]]) / np.median([c for _, c in times[False]])
    print(f"cost: x{cpu_ratio:.2f} CPU per step, samples/s ratio (p10 wall) {rates[True] / rates[False]:.2f}")


if __name__ == "__main__":
    main()
