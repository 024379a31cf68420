"""The expression lever of issue 15 on real faces: the face mesh reads the aligned 64 px training crops
(face/expression.py), the expression loss trains and resumes exactly (train/expression.py), and
expression-balanced sampling draws rare expressions more often (train/data.py, augment.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import facesmith
from facesmith.face.mesh_expression import AlignedFaceMesh, mesh_expression
from facesmith.models import create_model
from facesmith.train.augment import batch_indices, plain_batch
from facesmith.train.data import balanced_weights, load_faceset, prepare_face
from facesmith.train.expression import ExpressionLoss

from .test_train import FAST, extracted_facesets

COVERAGE = 0.875  # lite's and liae's


@pytest.fixture(scope="module")
def faces() -> tuple:
    a, b = extracted_facesets()
    return load_faceset(a, "A", 64, COVERAGE)[0], load_faceset(b, "B", 64, COVERAGE)[0]


def test_mesh_reads_the_64px_training_crops(faces: tuple) -> None:
    """On the 64 px crops the model trains on, the mesh's readings follow those of the same faces at
    256 px, and those of the stored 68 landmarks (A opens and closes her mouth and eyes a lot)."""
    a, _ = faces
    mesh = AlignedFaceMesh(COVERAGE)
    idx = np.arange(0, len(a), 2)
    with torch.no_grad():
        small = mesh_expression(mesh(plain_batch(a, idx)["input"])).numpy()
        big = np.stack([prepare_face(a.paths[i], 256, COVERAGE)[0] for i in idx]).astype(np.float32) / 255
        large = mesh_expression(mesh(torch.from_numpy(big).permute(0, 3, 1, 2))).numpy()
    for k in range(4):  # eye right, eye left, mouth opening, mouth width
        assert np.corrcoef(small[:, k], large[:, k])[0, 1] > 0.9, k
    eyes, mouth = small[:, :2].mean(1), small[:, 2]
    assert np.corrcoef(eyes, a.openness[idx, 0])[0, 1] > 0.6
    assert np.corrcoef(mouth, a.openness[idx, 1])[0, 1] > 0.7
    assert 0.2 < np.median(eyes) < 0.5 and mouth.min() >= 0  # open eyes, lips apart or closed


def test_balanced_sampling_favours_rare_expressions(faces: tuple) -> None:
    _, b = faces
    rare = b.openness[:, 0] <= np.quantile(b.openness[:, 0], 0.05)  # B's most closed eyes
    plain = balanced_weights(b.openness, 0.0)
    full = balanced_weights(b.openness, 1.0)
    assert np.allclose(plain, 1 / len(b)) and np.isclose(full.sum(), 1.0)
    assert full[rare].sum() > 3 * rare.mean()
    draw = batch_indices(len(b), 0, 1, 5, 4096, full)
    assert np.array_equal(draw, batch_indices(len(b), 0, 1, 5, 4096, full))  # a function of (seed, it)
    assert rare[draw].mean() > 3 * rare.mean()


def test_loss_reaches_the_swap_and_reads_b(faces: tuple) -> None:
    """B's readings are attached per face, and the loss's gradient reaches the model through the swap
    path (B drawn as A): the decoder side A uses, not B's."""
    a, b = faces
    loss = ExpressionLoss(1.0, COVERAGE, torch.device("cpu"))
    loss.attach(a, b)
    assert b.expression is not None and b.expression.shape == (len(b), 4)
    assert 0.5 <= float(loss.scale[0]) <= 2.0 and float(loss.scale[2]) == 1.0
    net = create_model("lite", **FAST["model_options"])
    batch = plain_batch(b, np.arange(8))
    batch["expression"] = torch.from_numpy(b.expression[:8])[:, :, None, None]
    value = loss(net, batch, 10_000)
    value.backward()
    assert value.item() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.decoder_a.parameters())
    assert all(p.grad is None for p in net.decoder_b.parameters())


def test_training_with_both_resumes_exactly(tmp_path: Path) -> None:
    a, b = extracted_facesets()
    opts = {**FAST, "expression_weight": 2.0, "expression_balance": 1.0, "pose_balance": 1.0, "log_every": 3,
            "preview_every": 100, "seed": 3}
    facesmith.train(a, b, tmp_path / "straight", iterations=8, save_every=4, **opts)
    facesmith.train(a, b, tmp_path / "resumed", iterations=4, save_every=4, **opts)
    second = facesmith.train(a, b, tmp_path / "resumed", iterations=8, save_every=4, **opts)
    assert second["resumed_from"] == 4
    x = load_file(tmp_path / "straight" / "checkpoints" / "00000008" / "model.safetensors")
    y = load_file(tmp_path / "resumed" / "checkpoints" / "00000008" / "model.safetensors")
    assert all(torch.equal(x[k], y[k]) for k in x)
    state = json.loads((tmp_path / "straight" / "checkpoints" / "00000008" / "state.json").read_text())
    assert state["config"]["expression_weight"] == 2.0 and state["config"]["expression_balance"] == 1.0
    assert state["config"]["pose_balance"] == 1.0
    # a model from before the options (no such keys) resumes without them
    for key in ("expression_weight", "expression_balance", "pose_balance", "poses"):
        del state["config"][key]
    (tmp_path / "straight" / "checkpoints" / "00000008" / "state.json").write_text(json.dumps(state))
    old = facesmith.train(a, b, tmp_path / "straight", iterations=9, **{**FAST, "log_every": 1})
    assert old["iterations"] == 9 and old["resumed_from"] == 8
