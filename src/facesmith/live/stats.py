"""Live figures: frames in and out, frames dropped, capture-to-output latency, time per stage.

A line on stderr about once a second (rewritten in place on a terminal), and `summary()` for `--json`
at the end. Latencies are kept for the whole run (8 bytes a frame) so the percentiles are exact.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np

STAGES = ("faces", "model", "blend", "mark", "output")


class LiveStats:
    def __init__(self, quiet: bool = False, every: float = 1.0):
        self.quiet, self.every = quiet, every
        self.started = time.monotonic()
        self.first_out: float | None = None
        self.last_out = self.started
        self.frames_in = 0  # frames the source delivered
        self.frames_out = 0  # frames handed to every output
        self.frames_swapped = 0
        self.faces_swapped = 0
        self.latencies: list[float] = []  # seconds, capture -> handed to the outputs
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._last_line = self.started
        self._line_frames = 0
        self._tty = sys.stderr.isatty()

    def frame_done(self, captured: float, stages: dict[str, float], faces: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.first_out = self.first_out or now
            self.last_out = now
            self.frames_out += 1
            self.faces_swapped += faces
            self.frames_swapped += bool(faces)
            self.latencies.append(now - captured)
            for name, seconds in stages.items():
                self.stage_seconds[name] += seconds

    def latency_ms(self) -> dict[str, float]:
        if not self.latencies:
            return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
        values = np.asarray(self.latencies) * 1000
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
                "max": round(float(values.max()), 1)}

    def maybe_print(self, frames_in: int, dropped: int, state: str) -> None:
        now = time.monotonic()
        if self.quiet or now - self._last_line < self.every:
            return
        span = now - self._last_line
        fps_out = (self.frames_out - self._line_frames) / span
        self._last_line, self._line_frames = now, self.frames_out
        recent = np.asarray(self.latencies[-max(1, round(fps_out * span)):]) * 1000
        p50, p95 = (np.percentile(recent, [50, 95]) if len(recent) else (0.0, 0.0))
        line = (f"live: {fps_out:5.1f} fps out, {frames_in} in, {self.frames_out} out, {dropped} dropped, "
                f"latency p50 {p50:.0f} ms p95 {p95:.0f} ms, {state}")
        sys.stderr.write(("\r\x1b[2K" + line) if self._tty else line + "\n")
        sys.stderr.flush()

    def say(self, message: str) -> None:
        """A line of its own (on a terminal, over the stats line, which the next second rewrites)."""
        if not self.quiet:
            sys.stderr.write(("\r\x1b[2K" if self._tty else "") + message + "\n")
            sys.stderr.flush()

    def end_line(self) -> None:
        if self._tty and not self.quiet and self.frames_out:
            sys.stderr.write("\n")

    def summary(self, frames_in: int, dropped: int, sink_drops: dict[str, int]) -> dict[str, Any]:
        elapsed = max(1e-9, time.monotonic() - self.started)
        span = (self.last_out - self.first_out) if self.first_out else 0.0
        out = self.frames_out
        per_frame = {name: round(1000 * self.stage_seconds.get(name, 0.0) / out, 2) if out else 0.0
                     for name in STAGES}
        return {
            "frames_in": frames_in, "frames_out": out, "frames_dropped": dropped,
            "drop_rate": round(dropped / frames_in, 4) if frames_in else 0.0,
            "output_drops": sink_drops,
            "fps_in": round(frames_in / elapsed, 2),
            # between the first and the last frame out: the sustained rate, without start-up
            "fps_out": round((out - 1) / span, 2) if out > 1 and span > 0 else 0.0,
            "latency_ms": self.latency_ms(), "stage_ms_per_frame": per_frame,
            "frames_with_swap": self.frames_swapped, "faces_swapped": self.faces_swapped,
            "seconds": round(elapsed, 2),
        }
