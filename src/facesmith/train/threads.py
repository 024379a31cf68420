"""Keep training fast when other programs share the cores: try thread counts, keep the fastest.

On 2 cores, torch's intra-op threads wait for each other at every layer; when another busy process
takes one core, a step with 2 threads waits for the slower one every time (measured: `lite` falls from
~137 to ~28 samples/s), while a step with 1 thread only loses its share of the core. No setting wins
on both a quiet and a busy machine, and the load changes during a 30-minute run, so the governor
measures: every so often it times a few steps at each candidate thread count (the first step after a
change is not counted: the thread pool is being rebuilt) and keeps the fastest until the next check.
Checks that confirm the current choice come less and more rarely (up to every ~5 minutes); a step
that gets much slower than the last measurement triggers a check at once.

Changing the thread count can change the last bits of a float reduction, so training only uses the
governor when it runs to a time budget (already not reproducible); iteration budgets keep fixed threads.
"""

from __future__ import annotations

import time

import torch

TRIAL_STEPS = 3  # timed steps per candidate (after one untimed step)
FIRST_CHECK_S = 20.0
MAX_CHECK_S = 300.0
SLOWDOWN = 1.8  # a step this much slower than the chosen count's measured speed re-checks at once


class ThreadGovernor:
    """Call `step()` once per training iteration; it sets torch's thread count."""

    def __init__(self, candidates: tuple[int, ...] | None = None, clock: object = time.perf_counter) -> None:
        top = torch.get_num_threads()
        self.candidates = candidates or tuple(sorted({top, max(1, top // 2), 1}, reverse=True))
        self.clock = clock
        self.chosen = top
        self.interval = FIRST_CHECK_S
        self.next_check = clock() + FIRST_CHECK_S  # type: ignore[operator]
        self.trial: list[int] = []  # candidates still to time in the running check
        self.times: dict[int, list[float]] = {}
        self.best_step = float("inf")  # seconds a step took at the chosen count, last check
        self.last = clock()  # type: ignore[operator]
        self.skip = False
        self.slow = 0  # consecutive steps over SLOWDOWN x the measured step (one alone: a save or preview)
        self.history: list[tuple[float, dict[int, float], int]] = []  # (time, median step per count, chosen)

    def step(self) -> None:
        now = self.clock()  # type: ignore[operator]
        dt, self.last = now - self.last, now
        self.slow = self.slow + 1 if dt > SLOWDOWN * self.best_step else 0
        if self.trial:
            self._time_trial(dt)
        elif len(self.candidates) > 1 and (now >= self.next_check or self.slow >= 2):
            self.trial = list(self.candidates)
            self.times = {n: [] for n in self.candidates}
            self._set(self.trial[0])

    def _time_trial(self, dt: float) -> None:
        n = self.trial[0]
        if self.skip:
            self.skip = False
            return
        self.times[n].append(dt)
        if len(self.times[n]) < TRIAL_STEPS:
            return
        self.trial.pop(0)
        if self.trial:
            self._set(self.trial[0])
            return
        medians = {k: sorted(v)[len(v) // 2] for k, v in self.times.items()}
        best = min(medians, key=medians.__getitem__)
        self.interval = min(MAX_CHECK_S, self.interval * 2) if best == self.chosen else FIRST_CHECK_S
        self.chosen, self.best_step = best, medians[best]
        self.next_check = self.clock() + self.interval  # type: ignore[operator]
        self.history.append((round(self.clock(), 1), {k: round(v, 4) for k, v in medians.items()}, best))  # type: ignore[operator]
        self._set(best)
        self.skip = False

    def _set(self, n: int) -> None:
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
            self.skip = True  # the next step rebuilds the pool: not a fair measurement
        else:
            self.skip = False

    def describe(self) -> str:
        if not self.history:
            return _threads(self.chosen)
        _, medians, best = self.history[-1]
        speeds = ", ".join(f"{k}: {v * 1000:.0f} ms" for k, v in sorted(medians.items()))
        return f"{_threads(best)} (step at {speeds}; {len(self.history)} checks)"


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")
