"""Which PyTorch device a job runs on: the one reading of `--device auto|cpu|cuda|mps` for train,
convert and swap (torch is imported only when asked)."""

from __future__ import annotations

from .errors import InputError

DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(device: str) -> str:
    """"auto": CUDA, else Apple Metal, else the CPU; a device that is asked for but missing is a
    one-line InputError."""
    import torch

    if device not in DEVICES:
        raise InputError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if device == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if device == "cuda" and not cuda:
        raise InputError("--device cuda: no CUDA GPU is available to PyTorch")
    if device == "mps" and not mps:
        raise InputError("--device mps: Apple Metal is not available to PyTorch")
    return device
