"""Model options read from a checkpoint or the command line, checked before a model is built.

A checkpoint's config is a file anyone can edit: widths of 10^6 or a latent of 10^9 would make
`train`/`convert` try to allocate tens of GB before failing. Every option must have the type of the
model's default and a sane range, and the parameter count - found by building the model on PyTorch's
"meta" device, which allocates nothing - must stay under MAX_PARAMETERS.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import InputError

MAX_PARAMETERS = 1_000_000_000  # ~16 GB to train (weights, grads, AdamW moments); hires 512 is ~0.2 G
MAX_WIDTH = 1 << 14  # channels / latent units of any one layer


def _bad(name: str, key: str, value: Any, what: str) -> InputError:
    return InputError(f"model {name!r}: option {key} = {str(value)[:60]} is not {what}")


def check_option(name: str, key: str, value: Any, default: Any) -> Any:
    """`value` if it has the type of `default` and a sane range (tuples come back as tuples)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _bad(name, key, value, "true or false")
    elif isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_WIDTH:
            raise _bad(name, key, value, f"a whole number in 1..{MAX_WIDTH}")
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        upper = 1.0 if key == "coverage" else 10.0
        if not ok or not (0.1 if key == "coverage" else 0.0) < value <= upper:
            raise _bad(name, key, value, f"a number in {'0.1..1' if key == 'coverage' else '0..10'}")
    elif isinstance(default, str):
        if not isinstance(value, str) or len(value) > 64:
            raise _bad(name, key, value, "a short string")
    elif isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(default) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_WIDTH for v in value):
            raise _bad(name, key, value, f"a list of {len(default)} whole numbers in 1..{MAX_WIDTH}")
        return tuple(value)
    return value


def check_options(name: str, defaults: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    unknown = set(cfg) - set(defaults)
    if unknown:
        raise InputError(f"model {name!r} has no option(s) {sorted(unknown)}; it has {sorted(defaults)}")
    return {k: check_option(name, k, v, defaults[k]) for k, v in cfg.items()}


def parameter_count(build: Any) -> int:
    """Parameters of the module `build()` makes, built on the meta device (no memory, no RNG draws)."""
    rng = torch.get_rng_state()
    try:
        with torch.device("meta"):
            module = build()
        return sum(p.numel() for p in module.parameters())
    finally:
        torch.set_rng_state(rng)


def check_parameters(name: str, count: int) -> None:
    if count > MAX_PARAMETERS:
        raise InputError(f"model {name!r} with these options has {count / 1e9:.1f} G parameters, over the "
                         f"{MAX_PARAMETERS / 1e9:.0f} G limit (the config asks for absurd layer sizes); "
                         "refusing to build it")
