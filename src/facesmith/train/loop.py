"""The training loop, top to bottom: placement, checkpoint or configuration, networks, data, loop, wrap-up.

    facesmith.train("faces/a", "faces/b", "models/ab", model="lite", minutes=30)

Determinism: every batch (sample order and augmentation) is a function of (seed, iteration), the
model is initialised from the seed, and checkpoints hold the exact weights and AdamW state; so a run
resumed from a checkpoint produces bit-identical weights to one that never stopped (same device and
thread count). Ctrl-C / SIGTERM finishes the current iteration, saves, then exits.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..errors import FacesmithError
from ..guards import guard_output_folder
from ..models import checkpoint as ckpt_io
from .augment import AugmentConfig, Prefetcher, plain_batch
from .expression import ExpressionLoss
from .logs import CsvLog, EventWriter
from .losses import LossWeights, face_loss, masked_ssim
from .options import TrainOptions, TrainSummary
from .preview import loss_plot, preview_grid, write_png
from .setup import Data, Nets, Placement, Run, build_nets, load_data, resume_or_start
from .threads import ThreadGovernor

CSV_FIELDS = ["iteration", "elapsed_s", "loss_a", "loss_b", "lr", "samples_per_s", "heldout_ssim_a", "heldout_ssim_b"]


@guard_output_folder("model folder", folder="model_dir", inputs=("faceset_a", "faceset_b"))
def train(faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path, **options: Any) -> TrainSummary:
    """Train (or resume) a face-swap model on two facesets; returns a TrainSummary. Options are the
    fields of `TrainOptions` (train/options.py), as `facesmith train` has them."""
    opt = TrainOptions(**options)
    opt.validate()
    model_dir = Path(model_dir)
    place = Placement.start(opt.device)
    run = resume_or_start(opt, model_dir, faceset_a, faceset_b, place.main)
    nets = build_nets(run, place)
    data = load_data(faceset_a, faceset_b, run, nets, place, opt.workers, model_dir, opt.occlusion_steps)
    trainer = Trainer(opt, model_dir, run, nets, data, place)
    with _stop_on_signal() as stop:
        interrupted = trainer.loop(stop)
    return trainer.finish(interrupted)


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[threading.Event]:
    """Ctrl-C / SIGTERM set the event (the loop finishes its iteration, saves, stops); a second one
    stops at once."""
    stop = threading.Event()
    old_handlers: dict[int, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, on_signal)
    try:
        yield stop
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


class Trainer:
    """One run's loop and what it writes: checkpoints, log.csv, TensorBoard events, previews."""

    def __init__(self, opt: TrainOptions, model_dir: Path, run: Run, nets: Nets, data: Data, place: Placement):
        self.opt, self.model_dir, self.run, self.nets, self.data, self.place = opt, model_dir, run, nets, data, place
        config = run.config
        self.weights, self.aug = LossWeights(**config["loss"]), AugmentConfig(**config["augment"])
        self.csv_log = CsvLog(model_dir / "log.csv", CSV_FIELDS, run.start) if place.main else None
        self.events = EventWriter(model_dir / "tensorboard") if place.main else None
        state = run.ckpt.state if run.ckpt else {}
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.samples_before = int(state.get("samples_seen", 0))
        self.end = opt.iterations if opt.iterations is not None else (1 << 62)
        self.deadline = math.inf
        self.t0 = time.perf_counter()
        self.done = run.start
        self.last: dict[str, float] = {}
        self.rate = 0.0
        self.tick_t, self.tick_it = self.t0, run.start
        # a time budget on a shared CPU: keep the thread count that trains fastest now (train/threads.py)
        self.threads = torch.get_num_threads()
        self.governor = ThreadGovernor() if (opt.minutes and place.dev.type == "cpu" and place.world == 1
                                             and self.threads > 1) else None
        self.expression: ExpressionLoss | None = None  # models from before the option: weight 0
        self.loss_expression = torch.zeros(())
        if float(config.get("expression_weight", 0.0)) > 0:
            self.expression = ExpressionLoss(float(config["expression_weight"]), nets.coverage, place.dev)
            self.expression.attach(data.a_train, data.b_train)

    @property
    def samples_per_iteration(self) -> int:
        return 2 * self.run.batch * self.place.world

    # --- the loop ------------------------------------------------------------------------------
    def loop(self, stop: threading.Event) -> bool:
        """Train until the iteration count, the time budget or a signal; True when a signal stopped it."""
        run, place = self.run, self.place
        self.deadline = time.perf_counter() + self.opt.minutes * 60 if self.opt.minutes else math.inf
        self.t0 = self.tick_t = time.perf_counter()
        loader = Prefetcher(self.data.a_train, self.data.b_train, run.seed, run.batch, self.aug, run.start,
                            depth=2, rank=place.rank, world=place.world)
        total = (self.end - run.start) if self.opt.iterations is not None else None
        bar = progress.bar(total=total, desc="training", unit="it")
        try:
            for it, (ba, bb) in zip(range(run.start, self.end), loader, strict=False):
                loss_a, loss_b, lr_now = self.step(it, ba, bb)
                self.done = it + 1
                self.after_step(loss_a, loss_b, lr_now, bar)
                bar.update(1)
                if self.governor is not None:
                    self.governor.step()
                if self._should_stop(stop):
                    return stop.is_set()
        except torch.OutOfMemoryError:
            batch = run.batch
            raise FacesmithError(f"out of GPU memory at batch size {batch}; retry with --batch-size "
                                 f"{max(1, batch // 2)} (or a smaller --size)") from None
        finally:
            loader.close()
            bar.close()
            torch.set_num_threads(self.threads)
        return False

    def step(self, it: int, ba: dict[str, torch.Tensor],
             bb: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One optimiser step on a batch of each side (and one of the discriminator with --gan)."""
        nets, config, dev = self.nets, self.run.config, self.place.dev
        ba = {k: v.to(dev, non_blocking=True, memory_format=nets.mem) for k, v in ba.items()}
        bb = {k: v.to(dev, non_blocking=True, memory_format=nets.mem) for k, v in bb.items()}
        # warm-up then constant learning rate (autoencoders keep improving; no decay needed)
        lr_now = config["lr"] * min(1.0, (it + 1) / max(1, config["warmup"]))
        for group in nets.opt.param_groups:
            group["lr"] = lr_now
        amp = {"dtype": nets.amp_dtype, "enabled": nets.amp_dtype is not None}
        with torch.autocast(dev.type, **amp):
            y_a, m_a, y_b, m_b = nets.train_net(ba["input"], bb["input"])
            loss_a = face_loss(y_a, m_a, ba, self.weights, config["multiscale"])
            loss_b = face_loss(y_b, m_b, bb, self.weights, config["multiscale"])
            total = loss_a + loss_b
            if self.expression is not None:
                self.loss_expression = self.expression(nets.net, bb, it)
                total = total + self.loss_expression
            if nets.gan_net is not None:
                from ..models.discriminator import g_loss

                total = total + config["gan"] * (g_loss(nets.gan_net, y_a) + g_loss(nets.gan_net, y_b))
        nets.opt.zero_grad(set_to_none=True)
        nets.scaler.scale(total).backward()
        nets.scaler.unscale_(nets.opt)
        torch.nn.utils.clip_grad_norm_(nets.net.parameters(), config["clip"])
        nets.scaler.step(nets.opt)
        nets.scaler.update()
        if nets.gan_net is not None and nets.d_opt is not None:
            from ..models.discriminator import d_loss

            with torch.autocast(dev.type, **amp):
                d_total = d_loss(nets.gan_net, ba["target"], y_a) + d_loss(nets.gan_net, bb["target"], y_b)
            nets.d_opt.zero_grad(set_to_none=True)
            d_total.backward()
            nets.d_opt.step()
        return loss_a, loss_b, lr_now

    def after_step(self, loss_a: torch.Tensor, loss_b: torch.Tensor, lr_now: float, bar: Any) -> None:
        """Losses to the log every --log-every iterations, previews and checkpoints on their own beat."""
        done, opt = self.done, self.opt
        if done % opt.log_every == 0 or done == self.end:
            self._log(loss_a, loss_b, lr_now, bar)
        if done % opt.preview_every == 0:
            self.write_previews()
            if self.events is not None and self.csv_log is not None:
                self.events.flush()
                self.csv_log.flush()
            if self.place.main and not sys.stderr.isatty():  # no live bar in a log file: one line per preview
                self._log_line()
        if done % opt.save_every == 0:
            self.save()

    def _log(self, loss_a: torch.Tensor, loss_b: torch.Tensor, lr_now: float, bar: Any) -> None:
        done = self.done
        self.last = {"loss_a": loss_a.item(), "loss_b": loss_b.item()}
        if self.expression is not None:
            self.last["loss_expression"] = self.loss_expression.item()
        now = time.perf_counter()
        self.rate = (done - self.tick_it) * self.samples_per_iteration / max(now - self.tick_t, 1e-9)
        self.tick_t, self.tick_it = now, done
        last = self.last
        if not math.isfinite(last["loss_a"] + last["loss_b"]):
            raise FacesmithError(f"the loss became {last['loss_a']}/{last['loss_b']} at iteration {done}; "
                                 "lower --lr or resume from the last checkpoint")
        bar.set_postfix_str(f"A {last['loss_a']:.4f} B {last['loss_b']:.4f} {self.rate:.0f} samples/s")
        if self.csv_log is not None and self.events is not None:
            row = {"iteration": done, "elapsed_s": self.elapsed_before + now - self.t0, "lr": lr_now,
                   "samples_per_s": self.rate, **last}  # loss_expression: TensorBoard only (log.csv keeps its columns)
            if done % self.opt.preview_every == 0 or done == self.end:
                row["heldout_ssim_a"] = self.heldout_ssim(self.data.a_held, "a")
                row["heldout_ssim_b"] = self.heldout_ssim(self.data.b_held, "b")
            self.csv_log.add(row)
            self.events.scalars(done, {k: float(v) for k, v in row.items() if k != "iteration"})

    def _log_line(self) -> None:
        done, last = self.done, self.last
        if self.opt.iterations:
            left = (self.end - done) / max(self.rate / self.samples_per_iteration, 1e-9)
        else:
            left = self.deadline - time.perf_counter()
        progress.log(f"iteration {done}: loss A {last.get('loss_a', float('nan')):.4f} "
                     f"B {last.get('loss_b', float('nan')):.4f}"
                     + (f" expression {last['loss_expression']:.4f}" if "loss_expression" in last else "")
                     + f", {self.rate:.0f} samples/s, ETA {left / 60:.1f} min")

    def _should_stop(self, stop: threading.Event) -> bool:
        """Stop together: in DDP every rank must agree, rank 0's clock decides."""
        want_stop = stop.is_set() or time.perf_counter() > self.deadline
        if self.place.world > 1:
            flag = torch.tensor([float(want_stop)], device=self.place.dev)
            torch.distributed.broadcast(flag, 0)
            want_stop = bool(flag.item())
        return want_stop

    # --- what it writes ------------------------------------------------------------------------
    @torch.no_grad()
    def heldout_ssim(self, held: Any, side: str) -> float:
        if len(held) == 0:
            return float("nan")
        net, dev = self.nets.net, self.place.dev
        net.eval()
        scores = []
        for i in range(0, len(held), 64):
            b = plain_batch(held, np.arange(i, min(i + 64, len(held))))
            pred = net.render(b["input"].to(dev, memory_format=self.nets.mem), side)[0]
            scores.append(masked_ssim(pred, b["target"].to(dev), b["mask"].to(dev)).cpu())
        net.train()
        return float(torch.cat(scores).mean())

    def save(self) -> Path | None:
        if not self.place.main:
            return None
        nets, it = self.nets, self.done
        files = {"model": nets.net.state_dict()}
        files["optimizer"], opt_meta = ckpt_io.flatten_optimizer(nets.opt, nets.names)
        state: dict[str, Any] = {"config": self.run.config, "optimizer": opt_meta, "rng": ckpt_io.rng_state(),
                                 "elapsed_s": self.elapsed_before + time.perf_counter() - self.t0,
                                 "samples_seen": self.samples_before + (it - self.run.start) * self.samples_per_iteration,
                                 "last_loss": self.last}
        if nets.gan_net is not None and nets.d_opt is not None:
            files["discriminator"] = nets.gan_net.state_dict()
            files["disc_optimizer"], state["disc_optimizer"] = ckpt_io.flatten_optimizer(
                nets.d_opt, [n for n, _ in nets.gan_net.named_parameters()])
        path = ckpt_io.save_checkpoint(self.model_dir, it, files, state, self.opt.keep)
        if self.csv_log:
            self.csv_log.flush()
        return path

    def write_previews(self) -> None:
        if not self.place.main or self.csv_log is None:
            return
        model_dir = self.model_dir
        try:  # previews are a convenience: failing to write one must not stop training
            grid = preview_grid(self.nets.net, self.data.preview_a, self.data.preview_b)
            write_png(model_dir / "preview.png", grid)
            if self.opt.timelapse:
                (model_dir / "timelapse").mkdir(exist_ok=True)
                write_png(model_dir / "timelapse" / f"{self.done:08d}.png", grid)
            its = np.array(self.csv_log.column("iteration"))
            if len(its) > 1:
                write_png(model_dir / "loss.png", loss_plot(its, {"loss A": np.array(self.csv_log.column("loss_a")),
                                                                  "loss B": np.array(self.csv_log.column("loss_b"))}))
        except OSError as e:
            progress.warn(f"could not write the preview in {model_dir}: {e}")

    # --- wrap-up -------------------------------------------------------------------------------
    def finish(self, interrupted: bool) -> TrainSummary:
        """The last checkpoint and previews, then the summary (KeyboardInterrupt after a signal)."""
        path = self.save()
        if self.place.main:
            self.write_previews()
        if self.events is not None:
            self.events.close()
        if interrupted:
            raise KeyboardInterrupt
        elapsed = time.perf_counter() - self.t0
        net, place, run, data, done = self.nets.net, self.place, self.run, self.data, self.done
        params_hash = hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in net.parameters())).hexdigest()
        if place.world > 1:
            sys.stderr.write(f"facesmith: rank {place.rank}/{place.world}: weights sha256 {params_hash}\n")
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
        return {
            "model": run.config["model"], "size": self.nets.size, "model_dir": str(self.model_dir), "iterations": done,
            "iterations_this_run": done - run.start, "resumed_from": run.start if run.ckpt else None,
            "samples_per_s": round((done - run.start) * self.samples_per_iteration / max(elapsed, 1e-9), 1),
            "seconds": round(elapsed, 1), "loss_a": self.last.get("loss_a"), "loss_b": self.last.get("loss_b"),
            "heldout_ssim_a": self.heldout_ssim(data.a_held, "a") if len(data.a_held) else None,
            "heldout_ssim_b": self.heldout_ssim(data.b_held, "b") if len(data.b_held) else None,
            "checkpoint": str(path) if path else None, "preview": str(self.model_dir / "preview.png"),
            "weights_sha256": params_hash, "device": str(place.dev), "world_size": place.world,
            "threads": self.governor.describe() if self.governor else f"{self.threads} thread(s), fixed",
        }
