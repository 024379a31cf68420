"""Load and run a `.tflite` model with ai-edge-litert (the TFLite runtime that works with numpy 2).

One `TFLiteModel` wraps one interpreter. A TFLite interpreter owns its input/output buffers, so two
threads must never run the same one at once: `run` holds a per-instance lock, which makes sharing an
instance safe but serial. To run models in parallel, give every worker thread its own instance (the
pipeline parallelises across frames, hence the default of one thread per interpreter).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..errors import InputError


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ logger prints "INFO: Created TensorFlow Lite XNNPACK delegate" on fd 2, which
    would break the one-line error contract of the CLI; Python-level errors still surface."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TFLiteModel:
    """A loaded `.tflite` model with one float32 input; outputs come back in the model's order."""

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        try:
            with _native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"cannot load model {path}: {exc}") from exc
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise InputError(f"model {path} has {len(inputs)} inputs; expected 1")
        self._input_index: int = inputs[0]["index"]
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in inputs[0]["shape"])
        self.output_names: list[str] = [d["name"] for d in self._interpreter.get_output_details()]
        self._output_indices: list[int] = [d["index"] for d in self._interpreter.get_output_details()]
        self._lock = threading.Lock()

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run one inference; `tensor` must match `input_shape`. Returns copies (the interpreter
        reuses its buffers on the next call)."""
        tensor = np.ascontiguousarray(tensor, dtype=np.float32)
        if tensor.shape != self.input_shape:
            raise ValueError(f"input shape {tensor.shape} != model input {self.input_shape}")
        with self._lock:
            self._interpreter.set_tensor(self._input_index, tensor)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(i).copy() for i in self._output_indices]
