"""The training thread governor on real work: it times each thread count and keeps the fastest."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from facesmith.train import threads as th


def conv_step(net: torch.nn.Module, x: torch.Tensor) -> None:
    net(x).square().mean().backward()


def test_governor_keeps_the_faster_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    if (torch.get_num_threads() or 1) < 2:
        torch.set_num_threads(2)
    monkeypatch.setattr(th, "FIRST_CHECK_S", 0.3)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.Conv2d(32, 32, 3, padding=1))
    x = torch.rand(8, 3, 64, 64)
    # a busy neighbour: one Python thread spinning, so one of the two threads has to share a core
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    neighbour = threading.Thread(target=spin, daemon=True)
    neighbour.start()
    try:
        gov = th.ThreadGovernor()
        assert gov.candidates == (2, 1)
        end = time.perf_counter() + 6
        while time.perf_counter() < end and not gov.history:
            conv_step(net, x)
            gov.step()
        assert gov.history, "no check was made"
        _, medians, chosen = gov.history[0]
        assert set(medians) == {1, 2} and chosen == min(medians, key=medians.__getitem__)
        assert torch.get_num_threads() == chosen == gov.chosen
        assert gov.describe().startswith(f"{chosen} thread")
    finally:
        stop.set()
        neighbour.join()
        torch.set_num_threads(before)


def test_a_single_thread_has_nothing_to_choose() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gov = th.ThreadGovernor()
        assert gov.candidates == (1,)
        for _ in range(5):
            gov.step()
        assert gov.history == [] and gov.describe() == "1 thread"
    finally:
        torch.set_num_threads(before)


def test_training_to_a_time_budget_uses_the_governor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import facesmith

    from .test_convert import TINY
    from .test_evaluate import prepared

    faces_a, _, _, root = prepared()
    # a check soon and short, so that it happens even when a busy machine allows only a few steps
    monkeypatch.setattr(th, "FIRST_CHECK_S", 0.5)
    monkeypatch.setattr(th, "TRIAL_STEPS", 1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        s = facesmith.train(faces_a, root / "b", tmp_path / "m", model="lite", model_options=TINY, batch_size=8,
                            minutes=0.15, save_every=100000, preview_every=100000)
        assert torch.get_num_threads() == 2  # given back as it was
    finally:
        torch.set_num_threads(before)
    print(s["threads"], s["samples_per_s"])
    assert s["iterations"] >= 3 and "checks)" in s["threads"]
