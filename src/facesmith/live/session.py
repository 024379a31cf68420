"""One live run: capture thread -> one-frame slot -> face thread -> one-frame slot -> swap on this
thread -> one-frame slot -> output thread -> every output.

    facesmith live -m models/ab -i /dev/video0 -o vcam -o out.mp4 -o preview:8080

The frame loop always takes the newest frame (the slot drops stale ones and counts them), so a slow
frame costs frames, never delay. Outputs other than the preview are opened on the first frame, when
its size is known (outputs.py); encoders run on their own threads behind short queues.

Stopping: the source ends (exit 0), `q` on the terminal, Ctrl-C or SIGTERM (exit 0: outputs are closed
and finalized, the recording is complete and playable), `duration` seconds of output, or the source
is lost (after any reconnects): the outputs are closed the same way, then `SourceLost` (exit 4). A
watchdog on this thread turns a capture that neither delivers nor fails into SourceLost too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from .. import progress
from ..errors import InputError
from .controls import KEYS_HELP, Controls, Settings, TerminalKeys
from .engine import LiveEngine
from .facestage import FaceStage
from .mailbox import Closed, LatestSlot
from .options import LiveOptions
from .outputs import Outputs
from .preview import PreviewServer
from .sinks import OutputSpec
from .sources import Capture, LiveFrame, SourceLost, SourceSpec
from .stats import LiveStats


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set `stop` (the loop then closes every output) instead of raising anywhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = lambda *_: stop.set()  # noqa: E731
    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def live(model_dir: str, source: SourceSpec, outputs: list[OutputSpec], settings: Settings | None = None,
         **options: Any) -> dict[str, Any]:
    """Run until the source ends or the run is stopped; returns the summary."""
    import torch

    opt = LiveOptions(**options)
    if not outputs:
        raise InputError("give at least one --output (a file, a stream URL, vcam or preview)")
    if sum(o.kind == "preview" for o in outputs) > 1:
        raise InputError("one preview server is enough (--output preview:PORT once)")
    engine = LiveEngine(model_dir, direction=opt.direction, device=opt.device, precision=opt.precision,
                        watermark=opt.watermark, detector=opt.detector, threshold=opt.threshold)
    controls = Controls(settings or Settings(), engine.masks, engine.has_identity, engine.has_occlusion)
    before = torch.get_num_threads()
    torch.set_num_threads(opt.threads or max(1, (os.cpu_count() or 2) // 2))
    try:
        engine.warm_up(identity=controls.snapshot().faces == "identity")
        return _run(engine, controls, source, outputs, opt)
    finally:
        torch.set_num_threads(before)


def _run(engine: LiveEngine, controls: Controls, source: SourceSpec, specs: list[OutputSpec],
         opt: LiveOptions) -> dict[str, Any]:
    stats = LiveStats(quiet=progress.QUIET)
    stop = threading.Event()
    slot = LatestSlot()
    capture = Capture(source, slot, stop, opt.reconnect)
    faces = FaceStage(engine, slot, controls, stop)
    preview_spec = next((o for o in specs if o.kind == "preview"), None)
    preview = None
    if preview_spec is not None:
        preview = PreviewServer(int(preview_spec.target), controls,
                                lambda: stats.summary(capture.frames, slot.dropped, {}))
        progress.log(f"live: preview and controls at http://127.0.0.1:{preview.port}/")
    outputs = Outputs([o for o in specs if o.kind != "preview"], preview, stats)
    keys = TerminalKeys(controls, lambda line: stats.say(f"live: {line}")) if opt.keys else None
    if keys is not None and keys.active:
        progress.log(f"live: {KEYS_HELP}")
    stopped, clean = "", True  # set when the loop returns
    # the handlers stay until every output is closed: a second Ctrl-C cannot cut a recording's finalizing
    with _stop_on_signals(stop):
        try:
            capture.start()
            faces.start()
            stopped = _loop(engine, controls, capture, faces, stop, outputs, stats, source, opt)
        except SourceLost:
            raise
        except BaseException:
            clean = False
            raise
        finally:
            stop.set()
            if keys is not None:
                keys.close()
            stats.end_line()
            capture.thread.join(source.open_timeout + source.stall_timeout + 1)
            faces.thread.join(5)
            outputs.close(clean, complete=stopped == "source ended")
    return {
        "source": source.target, "source_kind": source.kind, "stopped": stopped, "reconnects": capture.reconnects,
        "outputs": outputs.closed, "failed_outputs": outputs.failed, "settings": controls.snapshot().as_dict(),
        "setting_changes": controls.changes, "model_fingerprint": engine.fingerprint, "watermark": engine.watermark,
        "faces_found": engine.faces_found,
        **stats.summary(capture.frames, slot.dropped, outputs.drops()),
        "preview_port": preview.port if preview else None,
    }


def _loop(engine: LiveEngine, controls: Controls, capture: Capture, faces: FaceStage, stop: threading.Event,
          outputs: Outputs, stats: LiveStats, source: SourceSpec, opt: LiveOptions) -> str:
    """Frames until something stops the run; returns why it stopped (SourceLost when it was lost)."""
    watchdog = source.open_timeout + source.stall_timeout + 3
    first_out: float | None = None
    while True:
        if stop.is_set() or controls.quit.is_set():
            return "interrupted" if stop.is_set() else "quit"
        if opt.duration is not None and first_out is not None and time.monotonic() - first_out >= opt.duration:
            return "duration reached"
        try:
            item = faces.out.get(timeout=0.1)
        except Closed:
            error = faces.error or capture.error
            if isinstance(error, SourceLost) and outputs.opened:
                raise SourceLost(f"{error}; the outputs were closed ({outputs.recorded()})") from None
            if error is not None:
                raise error from None
            if stop.is_set():  # a signal also stops the capture, whose queue may close before this loop looks
                return "interrupted"
            return capture.ended or "source ended"
        dropped = faces.source.dropped
        if item is None:
            silent = time.monotonic() - capture.last_frame_at
            if not capture.reconnecting and silent > watchdog and capture.thread.is_alive():
                raise SourceLost(f"{source.label} sent no frame for {silent:.0f} s")
            stats.maybe_print(capture.frames, dropped, "waiting for the source")
            continue
        _one_frame(engine, controls, *item, capture, outputs, stats, source, opt)
        first_out = first_out or time.monotonic()
        state = "swap off" if not controls.snapshot().swap else f"{engine.engine.stats.faces_swapped} faces swapped"
        stats.maybe_print(capture.frames, dropped, state)


def _one_frame(engine: LiveEngine, controls: Controls, frame: LiveFrame, found: list[Any], stages: dict[str, float],
               capture: Capture, outputs: Outputs, stats: LiveStats, source: SourceSpec, opt: LiveOptions) -> None:
    faces = engine.swap(frame.index, frame.time, frame.image, found, controls.snapshot(), stages)
    if not outputs.opened:
        outputs.open(frame, source, capture.rate, engine.fingerprint, opt, engine.training_data)
    outputs.submit(frame, stages, faces)
