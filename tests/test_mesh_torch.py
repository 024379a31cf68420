"""The face mesh replayed in torch (face/mesh_torch.py) against LiteRT running the same `.tflite` file,
on real face crops cut the way the landmarker cuts them (detector ROI -> upright 192 px crop)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facesmith.assets import asset_path
from facesmith.errors import InputError
from facesmith.face.detect import create_detector
from facesmith.face.landmarks import roi_from_detection, roi_to_crop
from facesmith.face.litert import TFLiteModel
from facesmith.face.mesh_torch import MESH_INPUT, FaceMeshNet
from facesmith.media.warp import warp_crop


@pytest.fixture(scope="module")
def crops(shared_data: Path) -> np.ndarray:
    """(N, 192, 192, 3) RGB [0, 1] crops of the first face in 8 identity photos."""
    detector = create_detector("blazeface")
    out = []
    for path in sorted((shared_data / "images" / "identities").glob("img*.jpg"))[:8]:
        image = cv2.imread(str(path))
        found = detector.detect(image)
        assert found, f"no face found in {path.name}"
        crop = warp_crop(image, roi_to_crop(roi_from_detection(found[0]), MESH_INPUT), MESH_INPUT)
        out.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)
    return np.stack(out)


@pytest.fixture(scope="module")
def net() -> FaceMeshNet:
    return FaceMeshNet().eval()


def test_matches_litert_on_real_faces(net: FaceMeshNet, crops: np.ndarray) -> None:
    litert = TFLiteModel(asset_path("face_landmark.tflite"))
    with torch.no_grad():  # one batch in torch: batching must not change the answer either
        verts, logits = net(torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous())
    for i, crop in enumerate(crops):
        out = litert.run(crop[None])
        ref = next(o for o in out if o.size == 468 * 3).reshape(468, 3)
        flag = next(o for o in out if o.size == 1).reshape(())
        assert np.abs(verts[i].numpy() - ref).max() <= 1e-4  # landmark pixels of the 192 px crop
        assert abs(float(logits[i]) - float(flag)) <= 1e-4
        assert float(flag) > 0  # a face: the comparison is on real landmarks, not on noise


def test_gradient_reaches_the_input(net: FaceMeshNet, crops: np.ndarray) -> None:
    """The point of the port: landmarks are differentiable in the pixels (for a training loss),
    and the weights stay frozen."""
    x = torch.from_numpy(crops[:2]).permute(0, 3, 1, 2).contiguous().requires_grad_()
    verts, _ = net(x)
    (verts[:, 13, 1] - verts[:, 14, 1]).sum().backward()  # the inner-lip gap
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in net.parameters()) and not list(net.parameters())


def test_other_graphs_are_refused() -> None:
    """A model with operators the port does not know is refused at load, not run half-understood."""
    with pytest.raises(InputError, match="support"):
        FaceMeshNet(asset_path("face_detection_short_range.tflite"))
