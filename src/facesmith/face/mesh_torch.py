"""MediaPipe's face mesh (`face_landmark.tflite`) as a plain, differentiable torch module.

The graph is read at load time from the installed `.tflite` file (no converted weights are stored
anywhere): its operators, options and constant tensors come from the flatbuffer through the schema
module that ai-edge-litert ships, and `FaceMeshNet` replays them in order with torch ops. The model
only uses CONV_2D, DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D and PAD (channel padding of residual
branches); anything else is refused at load, so a changed model file cannot be run half-understood.

TFLite conventions translated here: tensors are NHWC (torch runs NCHW), conv kernels OHWI and
depthwise kernels 1HWC (both become OIHW), SAME padding puts the odd pixel after (bottom/right), not
split evenly as torch's `padding="same"` would for stride 2; fused activations are honoured (this
model has none). Input (N, 3, 192, 192) RGB in [0, 1]; output (N, 468, 3) vertices in pixels of the
192 px crop (x, y, relative z) and (N,) face-present logits, as the LiteRT model gives them.

Used by training's expression loss (train/expression.py); the LiteRT landmarker (face_mesh.py) stays
the fast path for inference.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from ai_edge_litert import schema_py_generated as tfl
from torch import nn

from ..assets import asset_path
from ..errors import InputError

MESH_INPUT = 192
_OPS = {getattr(tfl.BuiltinOperator, n): n for n in
        ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "ADD", "MAX_POOL_2D", "PAD")}
_ACT = {tfl.ActivationFunctionType.NONE: None, tfl.ActivationFunctionType.RELU: F.relu,
        tfl.ActivationFunctionType.RELU6: F.relu6}


def _options(op: tfl.Operator, kind: str) -> dict[str, int]:
    table = op.BuiltinOptions()
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "ADD"):
        cls = {"CONV_2D": tfl.Conv2DOptions, "DEPTHWISE_CONV_2D": tfl.DepthwiseConv2DOptions,
               "MAX_POOL_2D": tfl.Pool2DOptions, "ADD": tfl.AddOptions}[kind]
        o = cls()
        o.Init(table.Bytes, table.Pos)
        out = {"act": o.FusedActivationFunction()}
        if kind != "ADD":
            out.update(pad=o.Padding(), sh=o.StrideH(), sw=o.StrideW())
        if kind == "MAX_POOL_2D":
            out.update(kh=o.FilterHeight(), kw=o.FilterWidth())
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and (o.DilationHFactor(), o.DilationWFactor()) != (1, 1):
            raise InputError("face mesh model uses dilated convolutions, which this port does not support")
        return out
    return {}


def _same_pad(size: int, k: int, stride: int) -> tuple[int, int]:
    """TF SAME padding (before, after): the odd pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


class FaceMeshNet(nn.Module):
    """The face-landmark graph replayed in torch; weights are buffers (a frozen loss network)."""

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        path = Path(path) if path is not None else asset_path("face_landmark.tflite")
        buf = path.read_bytes()
        model = tfl.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        const: dict[int, np.ndarray] = {}
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(data, np.ndarray) and data.size:
                dtype = {tfl.TensorType.FLOAT32: np.float32, tfl.TensorType.INT32: np.int32}.get(tensor.Type())
                if dtype is None:
                    raise InputError(f"face mesh model {path}: constant tensor of unsupported type {tensor.Type()}")
                const[t] = data.view(dtype).reshape(tensor.ShapeAsNumpy())
        self.input_index = int(graph.Inputs(0))
        self.output_indices = [int(graph.Outputs(i)) for i in range(graph.OutputsLength())]
        self.ops: list[tuple[str, list[int], int, dict[str, int]]] = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = codes[op.OpcodeIndex()]
            kind = _OPS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            if kind is None:
                raise InputError(f"face mesh model {path}: operator {code.BuiltinCode()} is not supported")
            inputs = [int(op.Inputs(j)) for j in range(op.InputsLength())]
            opts = _options(op, kind)
            for j in inputs[1:]:
                if j in const:
                    self._add_constant(kind, j, const[j], opts)
            self.ops.append((kind, inputs, int(op.Outputs(0)), opts))
        sizes = [int(np.prod(graph.Tensors(t).ShapeAsNumpy())) for t in self.output_indices]
        self._mesh_out, self._flag_out = sizes.index(468 * 3), sizes.index(1)

    def _add_constant(self, kind: str, index: int, value: np.ndarray, opts: dict[str, int]) -> None:
        if value.ndim == 4 and kind == "CONV_2D":  # OHWI -> OIHW
            value = value.transpose(0, 3, 1, 2)
        elif value.ndim == 4 and kind == "DEPTHWISE_CONV_2D":  # 1HWC -> C1HW (multiplier 1)
            value = value.transpose(3, 0, 1, 2)
        elif kind == "PRELU":  # (1, 1, C) -> (C,), F.prelu's per-channel weight
            value = value.reshape(-1)
        elif kind == "PAD":  # NHWC (before, after) pairs, kept as ints
            opts["pads"] = value.astype(np.int64).reshape(-1).tolist()  # type: ignore[assignment]
            return
        self.register_buffer(f"t{index}", torch.from_numpy(np.array(value, np.float32)))

    def _run(self, kind: str, x: list[torch.Tensor], inputs: list[int], o: dict) -> torch.Tensor:
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = getattr(self, f"t{inputs[1]}")
            b = getattr(self, f"t{inputs[2]}") if len(inputs) > 2 and inputs[2] >= 0 else None
            h, pad = x[0], (0, 0)
            if o["pad"] == tfl.Padding.SAME:
                top, bottom = _same_pad(h.shape[2], w.shape[2], o["sh"])
                left, right = _same_pad(h.shape[3], w.shape[3], o["sw"])
                if (top, left) == (bottom, right):
                    pad = (top, left)  # even split: the convolution pads (cheaper than a copy)
                else:
                    h = F.pad(h, (left, right, top, bottom))
            groups = h.shape[1] if kind == "DEPTHWISE_CONV_2D" else 1
            y = F.conv2d(h, w, b, stride=(o["sh"], o["sw"]), padding=pad, groups=groups)
        elif kind == "PRELU":
            return F.prelu(x[0], getattr(self, f"t{inputs[1]}"))
        elif kind == "ADD":
            y = x[0] + x[1]
        elif kind == "MAX_POOL_2D":
            h = x[0]
            if o["pad"] == tfl.Padding.SAME:  # pad with -inf so padding never wins the max
                top, bottom = _same_pad(h.shape[2], o["kh"], o["sh"])
                left, right = _same_pad(h.shape[3], o["kw"], o["sw"])
                h = F.pad(h, (left, right, top, bottom), value=-math.inf)
            y = F.max_pool2d(h, (o["kh"], o["kw"]), (o["sh"], o["sw"]))
        else:  # PAD: NHWC pairs -> F.pad's last-dim-first order on NCHW
            n0, n1, h0, h1, w0, w1, c0, c1 = o["pads"]
            if n0 or n1:
                raise InputError("face mesh model pads the batch dimension; not supported")
            return F.pad(x[0], (w0, w1, h0, h1, c0, c1))
        act = _ACT.get(o["act"], NotImplemented)
        if act is NotImplemented:
            raise InputError(f"face mesh model: fused activation {o['act']} is not supported")
        return y if act is None else act(y)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, 192, 192) RGB in [0, 1] -> vertices (N, 468, 3) in crop pixels, logits (N,)."""
        values: dict[int, torch.Tensor] = {self.input_index: image}
        for kind, inputs, out, opts in self.ops:
            values[out] = self._run(kind, [values[i] for i in inputs if i in values], inputs, opts)
        outs = [values[i] for i in self.output_indices]
        return outs[self._mesh_out].reshape(-1, 468, 3), outs[self._flag_out].reshape(-1)
