"""What `facesmith swap` trains for a quality level or a budget, on this hardware, and why.

    draft  a quick look: the model (`liae`) alone, 10 minutes on a CPU
    good   the default: 30 minutes on a CPU; the last part of the budget trains the per-identity
           upscaler (x2), which draws the source person's own detail at twice the model's size
    best   overnight-class: 120 minutes on a CPU, upscaler x4

`--minutes M` alone picks the level from M (under 15: draft, under 90: good, else best); `--quality`
alone takes its level's minutes; both: that level's choices for M minutes. The figures behind these
choices are in benchmarks/quality.py and the notes of issue 15.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InputError

QUALITIES = ("draft", "good", "best")
MINUTES = {"cpu": {"draft": 10.0, "good": 30.0, "best": 120.0},
           "cuda": {"draft": 3.0, "good": 8.0, "best": 30.0},
           "mps": {"draft": 5.0, "good": 15.0, "best": 60.0}}
UPSCALE = {"draft": 0, "good": 2, "best": 4}
UPSCALE_SHARE = 0.15  # of the training budget that goes to the upscaler
# liae, not lite: on the shared pair at 1000 iterations it follows the target's mouth (correlation 0.32
# against 0.13) with a landmark error of 0.045 against 0.052 eye distances, at the same detail and
# cost; identity stays on the source's side on every frame (distance 0.44 against 0.39)
DEFAULT_MODEL = "liae"


@dataclass(frozen=True)
class SwapPlan:
    quality: str
    model: str
    minutes: float | None
    iterations: int | None
    upscale: int  # 0: none, else the upscaler's factor
    upscale_minutes: float | None
    upscale_iterations: int | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def plan_swap(device: str, quality: str | None = None, minutes: float | None = None,
              iterations: int | None = None, model: str | None = None, upscale: int | None = None) -> SwapPlan:
    """The plan for these wishes; what was not asked for follows from the quality level."""
    table = MINUTES.get(device, MINUTES["cpu"])
    if quality is not None and quality not in QUALITIES:
        raise InputError(f"--quality must be one of {', '.join(QUALITIES)}, not {quality!r}")
    if quality is None:
        if minutes is None:
            quality, why = "good", "the default level"
        else:
            quality = "draft" if minutes < 15 else "good" if minutes < 90 else "best"
            why = f"level {quality} from --minutes {minutes:g}"
    else:
        why = f"--quality {quality}"
    if upscale is None:
        upscale = UPSCALE[quality]
    if upscale not in (0, 2, 4):
        raise InputError(f"--upscale must be 0, 2 or 4, not {upscale}")
    model = model or DEFAULT_MODEL
    if iterations is not None:
        total, up_min = None, None
        why += f", {iterations} model iterations"
    else:
        total = minutes if minutes is not None else table[quality]
        up_min = round(total * UPSCALE_SHARE, 2) if upscale else None
        why += f", {total:g} minutes on {device}"
    model_min = None if total is None else round(total - (up_min or 0), 2)
    parts = [why, f"model {model}"]
    parts.append(f"upscaler x{upscale}" + (f" ({up_min:g} of the minutes)" if up_min else "") if upscale else "no upscaler")
    up_it = max(20, iterations // 4) if upscale and iterations is not None else None
    return SwapPlan(quality, model, model_min, iterations, upscale, up_min, up_it, "; ".join(parts))
