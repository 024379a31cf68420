"""What `swap` plans from --quality / --minutes, and that it says so."""

from __future__ import annotations

import pytest

from facesmith.errors import InputError
from facesmith.swap.plan import plan_swap


def test_default_is_good_thirty_cpu_minutes_with_the_upscaler() -> None:
    p = plan_swap("cpu")
    assert (p.quality, p.model, p.upscale) == ("good", "liae", 2)
    assert p.minutes + p.upscale_minutes == pytest.approx(30.0) and 0 < p.upscale_minutes < 10
    assert "upscaler x2" in p.reason and "30 minutes on cpu" in p.reason


def test_minutes_pick_the_level_and_quality_picks_the_minutes() -> None:
    assert plan_swap("cpu", minutes=5).quality == "draft" and plan_swap("cpu", minutes=5).upscale == 0
    assert plan_swap("cpu", minutes=5).minutes == 5
    assert plan_swap("cpu", minutes=480).quality == "best" and plan_swap("cpu", minutes=480).upscale == 4
    best = plan_swap("cpu", quality="best")
    assert best.minutes + best.upscale_minutes == pytest.approx(120.0)
    assert plan_swap("cuda", quality="draft").minutes == 3.0
    # an explicit choice wins over the level's
    assert plan_swap("cpu", quality="best", upscale=0).upscale == 0
    assert plan_swap("cpu", model="lite").model == "lite"


def test_iteration_budgets_give_the_upscaler_iterations_too() -> None:
    p = plan_swap("cpu", iterations=400)
    assert p.iterations == 400 and p.minutes is None and p.upscale_iterations == 100


def test_bad_wishes_are_refused() -> None:
    with pytest.raises(InputError, match="--quality"):
        plan_swap("cpu", quality="ultra")
    with pytest.raises(InputError, match="--upscale"):
        plan_swap("cpu", upscale=3)
