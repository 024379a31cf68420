"""The steps before the training loop: where it runs (device, distributed ranks), what it continues
(checkpoint and configuration), the networks and optimisers, and the data."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..atomic import check_writable_dir
from ..devices import pick_device
from ..errors import InputError
from ..face.occlusion import OcclusionNet
from ..face.pose import pose_cells
from ..models import checkpoint as ckpt_io
from ..models import create_model, model_class
from ..models.checkpoint_schema import check_resumable
from ..models.occlusion import load_occlusion
from .augment import AugmentConfig, plain_batch
from .data import FaceSet, balanced_weights, load_faceset
from .losses import LossWeights
from .options import TrainOptions
from .record import training_record


@dataclass
class Placement:
    """Where the run goes: its device, and its rank among `world` processes (torchrun sets them)."""

    dev: torch.device
    world: int
    rank: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device: str) -> Placement:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = pick_device(device)
        if world > 1:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device == "cuda" else "gloo")
            if device == "cpu":  # share the cores between the processes instead of oversubscribing
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        return cls(torch.device(f"cuda:{local_rank}" if device == "cuda" else device), world, rank, local_rank)


@dataclass
class Run:
    """The configuration of the run (from the checkpoint when resuming) and where it starts."""

    config: dict[str, Any]
    ckpt: Any  # models.checkpoint.Checkpoint or None
    start: int

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def batch(self) -> int:
        return int(self.config["batch_size"])


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def resume_or_start(opt: TrainOptions, model_dir: Path, faceset_a: str | Path, faceset_b: str | Path,
                    main: bool) -> Run:
    """The checkpoint in `model_dir` to continue (checked against the options), or a new configuration."""
    if main:
        check_writable_dir(model_dir)
    ckpt = ckpt_io.load_latest(model_dir) if model_dir.is_dir() else None
    if opt.resume and ckpt is None:
        raise InputError(f"--resume: {model_dir} holds no checkpoint to resume from")
    if ckpt is not None and opt.resume is not False:
        check_resumable(ckpt.state, str(ckpt.path / "state.json"))  # what a resume reads, typed
        try:
            LossWeights(**ckpt.config["loss"]), AugmentConfig(**ckpt.config["augment"])
        except (TypeError, ValueError) as e:
            raise InputError(f"{ckpt.path / 'state.json'}: the loss or augmentation settings are malformed "
                             f"({e})") from None
        _check_resumable(opt, model_dir, ckpt.config)
        if opt.occlusion and not ckpt.config.get("occlusion"):  # a model trained without it gains it here
            ckpt.config["occlusion"] = True
        if opt.consent is not None or "training_data" not in ckpt.config:  # a consent given now, or a model
            ckpt.config["training_data"] = training_record(  # trained before models recorded one
                faceset_a, faceset_b, opt.consent if opt.consent is not None else
                (ckpt.config.get("training_data") or {}).get("consent"))
        return Run(ckpt.config, ckpt, ckpt.iteration)
    if ckpt is not None:
        raise InputError(f"{model_dir} already holds a checkpoint (iteration {ckpt.iteration}); "
                         "resume it or pick an empty folder")
    cls = model_class(opt.model or "lite")
    opts = {**cls.DEFAULTS, **(opt.model_options or {}), **({"size": opt.size} if opt.size else {})}
    weights = opt.loss if isinstance(opt.loss, LossWeights) else LossWeights.parse(opt.loss)
    config = {
        "model": cls.name, "model_options": opts, "seed": 0 if opt.seed is None else opt.seed,
        "batch_size": opt.batch_size or opts["batch_size"], "lr": opt.lr or opts["lr"], "warmup": opt.warmup,
        "clip": opt.clip, "loss": asdict(weights), "multiscale": opt.multiscale, "augment": asdict(AugmentConfig()),
        "gan": opt.gan, "holdout": opt.holdout, "faceset_a": str(faceset_a), "faceset_b": str(faceset_b),
        "expression_weight": opts.get("expression_weight", 0.0) if opt.expression_weight is None else opt.expression_weight,
        "expression_balance": opt.expression_balance, "pose_balance": opt.pose_balance, "occlusion": opt.occlusion,
        "input": "BGR float in [0,1], central `coverage` of the aligned face resized to `size`",
        "training_data": training_record(faceset_a, faceset_b, opt.consent),
    }
    return Run(config, None, 0)


def _check_resumable(opt: TrainOptions, model_dir: Path, config: dict[str, Any]) -> None:
    want = {"model": opt.model, "size": opt.size or (opt.model_options or {}).get("size")}
    have = {"model": config["model"], "size": config["model_options"]["size"]}
    if any(v is not None and v != have[k] for k, v in want.items()):
        raise InputError(
            f"{model_dir} holds a checkpoint of model {have['model']!r} at {have['size']} px; it cannot "
            f"continue as {want['model'] or have['model']!r} at {want['size'] or have['size']} px - "
            "use another model folder (or drop --model/--size to resume)")
    changed = sorted(k for k, v in (opt.model_options or {}).items()
                     if k != "size" and _plain(v) != _plain(config["model_options"].get(k)))
    if changed:
        raise InputError(f"{model_dir} holds a checkpoint trained with other model options ({', '.join(changed)}); "
                         "use another model folder (or drop those options to resume)")
    for name, value in (("seed", opt.seed), ("batch_size", opt.batch_size)):
        if value is not None and value != config[name]:
            progress.warn(f"resuming with the checkpoint's {name}={config[name]} (ignoring {value})")


@dataclass
class Nets:
    """The model, its optimiser and the optional patch-GAN discriminator, on the run's device."""

    net: torch.nn.Module
    train_net: torch.nn.Module  # `net`, wrapped for DistributedDataParallel when there are several ranks
    opt: torch.optim.Optimizer
    gan_net: torch.nn.Module | None
    d_opt: torch.optim.Optimizer | None
    names: list[str]  # the model's parameter names, for the optimiser's checkpoint
    mem: torch.memory_format
    amp_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler

    @property
    def size(self) -> int:
        return int(self.net.config["size"])

    @property
    def coverage(self) -> float:
        return float(self.net.config["coverage"])


def build_nets(run: Run, place: Placement) -> Nets:
    """Initialise from the seed (then restore the checkpoint's weights, optimiser and RNG state when
    resuming) and move everything to the device. Records the model's full options in `run.config`."""
    config = run.config
    torch.manual_seed(run.seed)
    net = create_model(config["model"], **config["model_options"])
    config["model_options"] = {k: v for k, v in net.config.items() if k != "model"}
    gan_net = None
    if config["gan"] > 0:
        from ..models.discriminator import PatchDiscriminator

        gan_net = PatchDiscriminator(net.config["size"])
    names = [n for n, _ in net.named_parameters()]
    opt = torch.optim.AdamW(net.parameters(), lr=config["lr"], betas=(0.5, 0.999), weight_decay=1e-4)
    d_opt = torch.optim.AdamW(gan_net.parameters(), lr=config["lr"], betas=(0.5, 0.999)) if gan_net else None
    if run.ckpt is not None:
        _restore(run, net, opt, gan_net, d_opt)
    # channels_last: oneDNN (CPU) and cuDNN (GPU) both run these convs fastest in NHWC
    dev = place.dev
    mem = torch.channels_last if dev.type in ("cpu", "cuda") else torch.contiguous_format
    net = net.to(dev, memory_format=mem)
    if gan_net is not None:
        gan_net = gan_net.to(dev, memory_format=mem)
    for state in (*opt.state.values(), *(d_opt.state.values() if d_opt else ())):
        for k, v in state.items():
            if torch.is_tensor(v) and k != "step":
                state[k] = v.to(dev)
    train_net: torch.nn.Module = net
    if place.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_net = DistributedDataParallel(net, device_ids=[place.local_rank] if dev.type == "cuda" else None)
    amp_dtype = None
    if dev.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    return Nets(net, train_net, opt, gan_net, d_opt, names, mem, amp_dtype, scaler)


def _restore(run: Run, net: torch.nn.Module, opt: torch.optim.Optimizer, gan_net: torch.nn.Module | None,
             d_opt: torch.optim.Optimizer | None) -> None:
    ckpt = run.ckpt
    try:
        net.load_state_dict(ckpt.model_state)
        ckpt_io.restore_optimizer(opt, ckpt.tensors.get("optimizer", {}), ckpt.state["optimizer"])
        if gan_net is not None and d_opt is not None:
            gan_net.load_state_dict(ckpt.tensors["discriminator"])
            ckpt_io.restore_optimizer(d_opt, ckpt.tensors["disc_optimizer"], ckpt.state["disc_optimizer"])
    except (RuntimeError, KeyError, ValueError, IndexError, TypeError) as e:
        raise InputError(f"checkpoint {ckpt.path} does not fit model {run.config['model']!r} at "
                         f"{net.config['size']} px ({str(e).splitlines()[0][:200]}); it comes from another "
                         "model or size") from None
    try:
        ckpt_io.set_rng_state(ckpt.state["rng"])
    except (RuntimeError, KeyError, ValueError, IndexError, TypeError, OverflowError) as e:
        raise InputError(f"checkpoint {ckpt.path} has a malformed RNG state ({str(e)[:120]})") from None


@dataclass
class Data:
    """Both identities' faces at the model size: training and held-out sets, and the fixed preview faces."""

    a_train: FaceSet
    a_held: FaceSet
    b_train: FaceSet
    b_held: FaceSet
    preview_a: torch.Tensor
    preview_b: torch.Tensor


def occlusion_net(model_dir: Path, faceset_a: str | Path, faceset_b: str | Path, coverage: float, steps: int,
                  place: Placement) -> OcclusionNet:
    """The model's occlusion network: the one in MODEL_DIR (a resume), else trained now (rank 0)."""
    from .occlusion import train_occlusion

    net = load_occlusion(model_dir)
    if net is None:
        if place.main:
            train_occlusion(model_dir, faceset_a, faceset_b, coverage=coverage, steps=steps)
        if place.world > 1:
            import torch.distributed as dist

            dist.barrier()
        net = load_occlusion(model_dir)
    assert net is not None
    return net


def load_data(faceset_a: str | Path, faceset_b: str | Path, run: Run, nets: Nets, place: Placement,
              workers: int, model_dir: Path, occlusion_steps: int) -> Data:
    size, coverage = nets.size, nets.coverage
    occlusion = None  # models from before it: whole hulls
    if run.config.get("occlusion", False):
        occlusion = occlusion_net(model_dir, faceset_a, faceset_b, coverage, occlusion_steps, place)
    with progress.bar(desc="loading faces", unit="face") as pbar:
        a_train, a_held = load_faceset(faceset_a, "A", size, coverage, run.config["holdout"], workers, pbar,
                                       occlusion)
        b_train, b_held = load_faceset(faceset_b, "B", size, coverage, run.config["holdout"], workers, pbar,
                                       occlusion)
    if place.main:
        params = sum(p.numel() for p in nets.net.parameters()) / 1e6
        progress.log(f"faces: A {len(a_train)} (+{len(a_held)} held out), B {len(b_train)} (+{len(b_held)} held out); "
                     f"model {run.config['model']} {size} px, {params:.1f} M params")
    # the poses each identity is trained at, for convert's --unseen-pose (a resume records its facesets' now)
    run.config["poses"] = {"a": pose_cells(a_train.poses), "b": pose_cells(b_train.poses)}
    # models from before them: 0, plain epochs
    balance = {"expression": float(run.config.get("expression_balance", 0.0)),
               "pose": float(run.config.get("pose_balance", 0.0))}
    if any(balance.values()):
        for faces in (a_train, b_train):
            faces.sample_weights = balanced_weights(faces.openness, balance["expression"]) * \
                balanced_weights(faces.poses, balance["pose"])
            faces.sample_weights /= faces.sample_weights.sum()

    def fixed(train_set: FaceSet, held: FaceSet) -> torch.Tensor:
        src = held if len(held) >= 4 else train_set
        idx = np.linspace(0, len(src) - 1, min(6, len(src))).round().astype(int)
        return plain_batch(src, idx)["input"].to(place.dev, memory_format=nets.mem)

    return Data(a_train, a_held, b_train, b_held, fixed(a_train, a_held), fixed(b_train, b_held))
