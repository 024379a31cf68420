"""The outputs of a run, fed by their own thread: the frame loop hands over a swapped frame and goes
on to the next while this thread gives it to every output (the recording's conversion to YUV, the
virtual camera's copy, the preview's reference) and records its latency.

Outputs other than the preview are opened on the first frame, when its size is known. A network
output that fails is reported and dropped, the others go on; a recording's failure stops the run.
Between the loop and this thread is one more one-frame slot that the loop waits on (never dropping).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import progress
from ..errors import OutputError
from .mailbox import Closed, LatestSlot
from .preview import PreviewServer
from .sinks import FileSink, OutputSpec, StreamSink, VirtualCameraSink, report_failure
from .sources import LiveFrame, SourceSpec
from .stats import LiveStats


class Outputs:
    def __init__(self, specs: list[OutputSpec], preview: PreviewServer | None, stats: LiveStats):
        self.specs, self.sinks = specs, [preview] if preview else []
        self.stats = stats
        self.opened = False
        self.failed: list[str] = []
        self.closed: list[dict[str, Any]] = []
        self._slot = LatestSlot()
        self._gone = threading.Event()  # the thread has ended (an error, or the slot was closed)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="facesmith-outputs")

    def open(self, frame: LiveFrame, source: SourceSpec, rate: float, fingerprint: str, opt: Any,
             training_data: dict[str, Any] | None = None) -> None:
        """`training_data`: the model's training-data record (`train.record`), for recordings' manifests."""
        h, w = frame.image.shape[:2]
        for spec in self.specs:
            if spec.kind == "file":
                self.sinks.append(FileSink(spec, source, w, h, rate, fingerprint=fingerprint, crf=opt.crf,
                                           preset=opt.preset, training_data=training_data))
            elif spec.kind == "stream":
                self.sinks.append(StreamSink(spec, w, h, rate, fingerprint=fingerprint))
            elif spec.kind == "vcam":
                self.sinks.append(VirtualCameraSink(spec, w, h, rate, backend=opt.vcam_backend))
            progress.log(f"live: output {self.sinks[-1].name}")
        self.opened = True
        self.thread.start()

    def submit(self, frame: LiveFrame, stages: dict[str, float], faces: int) -> None:
        """Hand a finished frame over (waits while the previous one is still being sent)."""
        if self.error is None and self._slot.put((frame, stages, faces), block=True, stop=self._gone):
            return
        raise self.error or OutputError("the outputs stopped")

    def _run(self) -> None:
        try:
            while True:
                try:
                    item = self._slot.get(timeout=0.5)
                except Closed:
                    return
                if item is None:
                    continue
                frame, stages, faces = item
                t0 = time.perf_counter()
                self._send(frame)
                stages["output"] = time.perf_counter() - t0
                self.stats.frame_done(frame.captured, stages, faces)
        except BaseException as e:  # the frame loop raises it on its next submit, or at close
            self.error = e
        finally:
            self._gone.set()

    def _send(self, frame: LiveFrame) -> None:
        for sink in list(self.sinks):
            try:
                sink.send(frame)
            except OutputError as e:
                if isinstance(sink, FileSink):
                    raise
                report_failure(sink, e)
                self.failed.append(sink.name)
                self.sinks.remove(sink)
                sink.abort()

    def recorded(self) -> str:
        files = [s.name for s in self.sinks if isinstance(s, FileSink)]
        return f"the recording in {', '.join(files)} is kept" if files else "nothing was recorded"

    def drops(self) -> dict[str, int]:
        return {sink.name: sink.dropped for sink in self.sinks}

    def close(self, clean: bool, complete: bool = True) -> None:
        """Send what was handed over, then close everything (clean: finish and finalize recordings;
        else discard them; `complete`: the source was played to its end). The first error is raised
        after all are closed."""
        self._slot.close()
        if self.thread.is_alive():
            self.thread.join(30)
        error: BaseException | None = self.error if clean else None
        for sink in self.sinks:
            try:
                if clean and error is None:
                    self.closed.append(sink.close(complete) if isinstance(sink, FileSink) else sink.close())
                else:
                    sink.abort()
            except BaseException as e:
                error = error or e
        self.sinks = []
        if error is not None:
            raise error
