"""The training loop, top to bottom: setup, data, model, optimizer, loop, checkpoints.

    facesmith.train("faces/a", "faces/b", "models/ab", model="lite", minutes=30)

Determinism: every batch (sample order and augmentation) is a function of (seed, iteration), the
model is initialised from the seed, and checkpoints hold the exact weights and AdamW state; so a run
resumed from a checkpoint produces bit-identical weights to one that never stopped (same device and
thread count). Ctrl-C / SIGTERM finishes the current iteration, saves, then exits.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..atomic import check_writable_dir
from ..errors import FacesmithError, InputError
from ..models import checkpoint as ckpt_io
from ..models import create_model, model_class
from .augment import AugmentConfig, Prefetcher, plain_batch
from .data import load_faceset
from .logs import CsvLog, EventWriter
from .losses import LossWeights, face_loss, masked_ssim
from .preview import loss_plot, preview_grid, write_png
from .threads import ThreadGovernor

CSV_FIELDS = ["iteration", "elapsed_s", "loss_a", "loss_b", "lr", "samples_per_s", "heldout_ssim_a", "heldout_ssim_b"]


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def train(faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path, *, model: str | None = None,
          size: int | None = None, batch_size: int | None = None, iterations: int | None = None,
          minutes: float | None = None, device: str = "auto", seed: int | None = None, resume: bool | None = None,
          gan: float = 0.0, loss: str | LossWeights | None = None, multiscale: bool = False,
          lr: float | None = None, warmup: int = 100, clip: float = 1.0, save_every: int = 500, keep: int = 3,
          preview_every: int = 100, timelapse: bool = False, log_every: int = 10, holdout: float = 0.0,
          workers: int = 2, model_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train (or resume) a face-swap model on two facesets; returns a summary dict."""
    model_dir = Path(model_dir)

    # ---- distributed (torchrun sets these) and device ----
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available to PyTorch")
    if device == "mps" and not torch.backends.mps.is_available():
        raise InputError("--device mps: Apple Metal is not available to PyTorch")
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cpu":  # share the cores between the processes instead of oversubscribing
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    dev = torch.device(f"cuda:{local_rank}" if device == "cuda" else device)
    main = rank == 0

    # ---- the checkpoint to resume from, and the run's configuration ----
    if main:
        check_writable_dir(model_dir)
    ckpt = ckpt_io.load_latest(model_dir) if model_dir.is_dir() else None
    if resume and ckpt is None:
        raise InputError(f"--resume: {model_dir} holds no checkpoint to resume from")
    if ckpt is not None and resume is not False:
        config = ckpt.config
        want = {"model": model, "size": size or (model_options or {}).get("size")}
        have = {"model": config["model"], "size": config["model_options"]["size"]}
        if any(v is not None and v != have[k] for k, v in want.items()):
            raise InputError(
                f"{model_dir} holds a checkpoint of model {have['model']!r} at {have['size']} px; it cannot "
                f"continue as {want['model'] or have['model']!r} at {want['size'] or have['size']} px - "
                "use another model folder (or drop --model/--size to resume)")
        changed = sorted(k for k, v in (model_options or {}).items()
                         if k != "size" and _plain(v) != _plain(config["model_options"].get(k)))
        if changed:
            raise InputError(f"{model_dir} holds a checkpoint trained with other model options ({', '.join(changed)}); "
                             "use another model folder (or drop those options to resume)")
        for name, value in (("seed", seed), ("batch_size", batch_size)):
            if value is not None and value != config[name]:
                progress.warn(f"resuming with the checkpoint's {name}={config[name]} (ignoring {value})")
        start = ckpt.iteration
    elif ckpt is not None:
        raise InputError(f"{model_dir} already holds a checkpoint (iteration {ckpt.iteration}); "
                         "resume it or pick an empty folder")
    else:
        cls = model_class(model or "lite")
        opts = {**cls.DEFAULTS, **(model_options or {}), **({"size": size} if size else {})}
        weights = loss if isinstance(loss, LossWeights) else LossWeights.parse(loss)
        config = {
            "model": cls.name, "model_options": opts, "seed": 0 if seed is None else seed,
            "batch_size": batch_size or opts["batch_size"], "lr": lr or opts["lr"], "warmup": warmup,
            "clip": clip, "loss": asdict(weights), "multiscale": multiscale, "augment": asdict(AugmentConfig()),
            "gan": gan, "holdout": holdout, "faceset_a": str(faceset_a), "faceset_b": str(faceset_b),
            "input": "BGR float in [0,1], central `coverage` of the aligned face resized to `size`",
        }
        start = 0
    seed, batch = int(config["seed"]), int(config["batch_size"])
    weights, aug = LossWeights(**config["loss"]), AugmentConfig(**config["augment"])

    # ---- model (initialised from the seed), optimizer, optional discriminator ----
    torch.manual_seed(seed)
    net = create_model(config["model"], **config["model_options"])
    config["model_options"] = {k: v for k, v in net.config.items() if k != "model"}
    size, coverage = net.config["size"], net.config["coverage"]
    gan_net = None
    if config["gan"] > 0:
        from ..models.discriminator import PatchDiscriminator, d_loss, g_loss

        gan_net = PatchDiscriminator(size)
    names = [n for n, _ in net.named_parameters()]
    opt = torch.optim.AdamW(net.parameters(), lr=config["lr"], betas=(0.5, 0.999), weight_decay=1e-4)
    d_opt = torch.optim.AdamW(gan_net.parameters(), lr=config["lr"], betas=(0.5, 0.999)) if gan_net else None
    if ckpt is not None:
        try:
            net.load_state_dict(ckpt.model_state)
            ckpt_io.restore_optimizer(opt, ckpt.tensors.get("optimizer", {}), ckpt.state["optimizer"])
            if gan_net is not None and d_opt is not None:
                gan_net.load_state_dict(ckpt.tensors["discriminator"])
                ckpt_io.restore_optimizer(d_opt, ckpt.tensors["disc_optimizer"], ckpt.state["disc_optimizer"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise InputError(f"checkpoint {ckpt.path} does not fit model {config['model']!r} at {size} px "
                             f"({str(e).splitlines()[0][:200]}); it comes from another model or size") from None
        ckpt_io.set_rng_state(ckpt.state["rng"])
    # channels_last: oneDNN (CPU) and cuDNN (GPU) both run these convs fastest in NHWC
    mem = torch.channels_last if dev.type in ("cpu", "cuda") else torch.contiguous_format
    net = net.to(dev, memory_format=mem)
    if gan_net is not None:
        gan_net = gan_net.to(dev, memory_format=mem)
    for state in (*opt.state.values(), *(d_opt.state.values() if d_opt else ())):
        for k, v in state.items():
            if torch.is_tensor(v) and k != "step":
                state[k] = v.to(dev)
    train_net: torch.nn.Module = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_net = DistributedDataParallel(net, device_ids=[local_rank] if dev.type == "cuda" else None)
    amp_dtype = None
    if dev.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    # ---- data: decoded once, cached, augmented in a background thread ----
    with progress.bar(desc="loading faces", unit="face") as pbar:
        a_train, a_held = load_faceset(faceset_a, "A", size, coverage, config["holdout"], workers, pbar)
        b_train, b_held = load_faceset(faceset_b, "B", size, coverage, config["holdout"], workers, pbar)
    if main:
        progress.log(f"faces: A {len(a_train)} (+{len(a_held)} held out), B {len(b_train)} (+{len(b_held)} held out); "
                     f"model {config['model']} {size} px, {sum(p.numel() for p in net.parameters()) / 1e6:.1f} M params")

    def fixed(train_set: Any, held: Any) -> torch.Tensor:
        src = held if len(held) >= 4 else train_set
        idx = np.linspace(0, len(src) - 1, min(6, len(src))).round().astype(int)
        return plain_batch(src, idx)["input"].to(dev, memory_format=mem)

    preview_a, preview_b = fixed(a_train, a_held), fixed(b_train, b_held)

    @torch.no_grad()
    def heldout_ssim(held: Any, side: str) -> float:
        if len(held) == 0:
            return float("nan")
        net.eval()
        scores = []
        for i in range(0, len(held), 64):
            b = plain_batch(held, np.arange(i, min(i + 64, len(held))))
            pred = net.render(b["input"].to(dev, memory_format=mem), side)[0]
            scores.append(masked_ssim(pred, b["target"].to(dev), b["mask"].to(dev)).cpu())
        net.train()
        return float(torch.cat(scores).mean())

    # ---- logs ----
    csv_log = CsvLog(model_dir / "log.csv", CSV_FIELDS, start) if main else None
    events = EventWriter(model_dir / "tensorboard") if main else None
    elapsed_before = float(ckpt.state.get("elapsed_s", 0.0)) if ckpt else 0.0
    samples_before = int(ckpt.state.get("samples_seen", 0)) if ckpt else 0

    def save(it: int, last: dict[str, float]) -> Path | None:
        if not main:
            return None
        files = {"model": net.state_dict()}
        opt_t, opt_meta = ckpt_io.flatten_optimizer(opt, names)
        files["optimizer"] = opt_t
        state: dict[str, Any] = {"config": config, "optimizer": opt_meta, "rng": ckpt_io.rng_state(),
                                 "elapsed_s": elapsed_before + time.perf_counter() - t0,
                                 "samples_seen": samples_before + (it - start) * 2 * batch * world,
                                 "last_loss": last}
        if gan_net is not None and d_opt is not None:
            files["discriminator"] = gan_net.state_dict()
            files["disc_optimizer"], state["disc_optimizer"] = ckpt_io.flatten_optimizer(
                d_opt, [n for n, _ in gan_net.named_parameters()])
        path = ckpt_io.save_checkpoint(model_dir, it, files, state, keep)
        if csv_log:
            csv_log.flush()
        return path

    def write_previews(it: int) -> None:
        if not main or csv_log is None:
            return
        try:  # previews are a convenience: failing to write one must not stop training
            grid = preview_grid(net, preview_a, preview_b)
            write_png(model_dir / "preview.png", grid)
            if timelapse:
                (model_dir / "timelapse").mkdir(exist_ok=True)
                write_png(model_dir / "timelapse" / f"{it:08d}.png", grid)
            its = np.array(csv_log.column("iteration"))
            if len(its) > 1:
                write_png(model_dir / "loss.png", loss_plot(its, {"loss A": np.array(csv_log.column("loss_a")),
                                                                  "loss B": np.array(csv_log.column("loss_b"))}))
        except OSError as e:
            progress.warn(f"could not write the preview in {model_dir}: {e}")

    # ---- Ctrl-C / SIGTERM: finish the iteration, save, then stop (a second signal stops at once) ----
    stop = threading.Event()
    old_handlers: dict[int, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, on_signal)

    # ---- the loop ----
    end = iterations if iterations is not None else (1 << 62)
    deadline = time.perf_counter() + minutes * 60 if minutes else math.inf
    t0 = time.perf_counter()
    it = start
    last: dict[str, float] = {}
    loader = Prefetcher(a_train, b_train, seed, batch, aug, start, workers=1, depth=2, rank=rank, world=world)
    bar = progress.bar(total=(end - start) if iterations is not None else None, desc="training", unit="it")
    tick_t, tick_it = time.perf_counter(), it
    rate = 0.0
    interrupted = False
    done = start
    # a time budget on a shared CPU: keep the thread count that trains fastest now (train/threads.py)
    threads_before = torch.get_num_threads()
    governor = ThreadGovernor() if minutes and dev.type == "cpu" and world == 1 and threads_before > 1 else None
    try:
        for it, (ba, bb) in zip(range(start, end), loader, strict=False):
            ba = {k: v.to(dev, non_blocking=True, memory_format=mem) for k, v in ba.items()}
            bb = {k: v.to(dev, non_blocking=True, memory_format=mem) for k, v in bb.items()}
            # warm-up then constant learning rate (autoencoders keep improving; no decay needed)
            lr_now = config["lr"] * min(1.0, (it + 1) / max(1, config["warmup"]))
            for group in opt.param_groups:
                group["lr"] = lr_now
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                y_a, m_a, y_b, m_b = train_net(ba["input"], bb["input"])
                loss_a = face_loss(y_a, m_a, ba, weights, config["multiscale"])
                loss_b = face_loss(y_b, m_b, bb, weights, config["multiscale"])
                total = loss_a + loss_b
                if gan_net is not None:
                    total = total + config["gan"] * (g_loss(gan_net, y_a) + g_loss(gan_net, y_b))
            opt.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), config["clip"])
            scaler.step(opt)
            scaler.update()
            if gan_net is not None and d_opt is not None:
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    d_total = d_loss(gan_net, ba["target"], y_a) + d_loss(gan_net, bb["target"], y_b)
                d_opt.zero_grad(set_to_none=True)
                d_total.backward()
                d_opt.step()
            done = it + 1

            if done % log_every == 0 or done == end:
                last = {"loss_a": loss_a.item(), "loss_b": loss_b.item()}
                now = time.perf_counter()
                rate = (done - tick_it) * 2 * batch * world / max(now - tick_t, 1e-9)
                tick_t, tick_it = now, done
                if not math.isfinite(last["loss_a"] + last["loss_b"]):
                    raise FacesmithError(f"the loss became {last['loss_a']}/{last['loss_b']} at iteration {done}; "
                                         "lower --lr or resume from the last checkpoint")
                bar.set_postfix_str(f"A {last['loss_a']:.4f} B {last['loss_b']:.4f} {rate:.0f} samples/s")
                if csv_log is not None and events is not None:
                    row = {"iteration": done, "elapsed_s": elapsed_before + now - t0, "lr": lr_now,
                           "samples_per_s": rate, **last}
                    if done % preview_every == 0 or done == end:
                        row["heldout_ssim_a"] = heldout_ssim(a_held, "a")
                        row["heldout_ssim_b"] = heldout_ssim(b_held, "b")
                    csv_log.add(row)
                    events.scalars(done, {k: float(v) for k, v in row.items() if k != "iteration"})
            if done % preview_every == 0:
                write_previews(done)
                if events is not None and csv_log is not None:
                    events.flush()
                    csv_log.flush()
                if main and not sys.stderr.isatty():  # no live bar in a log file: one line per preview
                    left = (end - done) / max(rate / (2 * batch * world), 1e-9) if iterations else deadline - time.perf_counter()
                    progress.log(f"iteration {done}: loss A {last.get('loss_a', float('nan')):.4f} "
                                 f"B {last.get('loss_b', float('nan')):.4f}, {rate:.0f} samples/s, ETA {left / 60:.1f} min")
            if done % save_every == 0:
                save(done, last)
            bar.update(1)
            if governor is not None:
                governor.step()
            # stop together: in DDP every rank must agree, rank 0's clock decides
            want_stop = stop.is_set() or time.perf_counter() > deadline
            if world > 1:
                flag = torch.tensor([float(want_stop)], device=dev)
                torch.distributed.broadcast(flag, 0)
                want_stop = bool(flag.item())
            if want_stop:
                interrupted = stop.is_set()
                break
    except torch.OutOfMemoryError:
        raise FacesmithError(f"out of GPU memory at batch size {batch}; retry with --batch-size {max(1, batch // 2)} "
                             "(or a smaller --size)") from None
    finally:
        loader.close()
        bar.close()
        torch.set_num_threads(threads_before)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)

    # ---- wrap up: checkpoint, previews, plot, summary ----
    path = save(done, last)
    if main:
        write_previews(done)
    if events is not None:
        events.close()
    if interrupted:
        raise KeyboardInterrupt
    elapsed = time.perf_counter() - t0
    params_hash = hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in net.parameters())).hexdigest()
    if world > 1:
        sys.stderr.write(f"facesmith: rank {rank}/{world}: weights sha256 {params_hash}\n")
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return {
        "model": config["model"], "size": size, "model_dir": str(model_dir), "iterations": done,
        "iterations_this_run": done - start, "resumed_from": start if ckpt else None,
        "samples_per_s": round((done - start) * 2 * batch * world / max(elapsed, 1e-9), 1),
        "seconds": round(elapsed, 1), "loss_a": last.get("loss_a"), "loss_b": last.get("loss_b"),
        "heldout_ssim_a": heldout_ssim(a_held, "a") if len(a_held) else None,
        "heldout_ssim_b": heldout_ssim(b_held, "b") if len(b_held) else None,
        "checkpoint": str(path) if path else None, "preview": str(model_dir / "preview.png"),
        "weights_sha256": params_hash, "device": str(dev), "world_size": world,
        "threads": governor.describe() if governor else f"{threads_before} thread(s), fixed",
    }
