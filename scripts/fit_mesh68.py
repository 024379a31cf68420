"""Fit the face-mesh (468 vertices) -> iBUG-68 weights used by facesmith.face.face_mesh.

Each iBUG point j becomes an affine combination (weights sum to 1) of K mesh vertices near its
nearest vertex, fitted by ridge least squares towards the nearest-vertex one-hot weights. Weights that
sum to 1 commute with rotation, scale and translation, so one set of weights serves every face pose.

Data: dlib's training_with_face_landmarks.xml only (its landmarks are dlib-predictor output on the
boxes given there), augmented with mirrored images and rotations of +-15 degrees; evaluation on
testing_with_face_landmarks.xml, which plays no part in the fit. Prints NME (mean point error /
outer-eye-corner distance) for the nearest-vertex and fitted mappings and a Python literal to paste
into face_mesh.py as _MESH68_FIT.

It also prints the calibration of `landmarks.roi_from_landmarks` (_LM_SCALE, _LM_SHIFT): over the
training faces BlazeFace finds, the median ratio of the detection ROI's side to the side of the 68
points' bounding box (in the upright face frame), and the ROI centre's offset above the box centre.

    .venv/bin/python scripts/fit_mesh68.py [--data /work/shared/data] [--k 6] [--ridge 1.0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from facesmith.face.align import FLIP_68
from facesmith.face.detect import create_detector
from facesmith.face.face_mesh import MESH68_NEAREST, FaceMeshLandmarker
from facesmith.face.imglab import detection_from_landmarks, read_imglab
from facesmith.face.landmarks import roi_from_detection, roll_angle


# iBUG-68 index of each point's mirror image (for the flip augmentation)
def nme(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=1).mean() / np.linalg.norm(gt[45] - gt[36]))


def samples(faces: list, mesh: FaceMeshLandmarker, augment: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(468 mesh vertices (468, 2), ground-truth (68, 2)) per face and augmentation."""
    out = []
    for path, box, pts in faces:
        image = cv2.imread(str(path))
        variants = [(image, box, pts)]
        if augment:
            w = image.shape[1]
            flipped_pts = pts[FLIP_68].copy()
            flipped_pts[:, 0] = w - 1 - flipped_pts[:, 0]
            flipped_box = np.array([w - box[2], box[1], w - box[0], box[3]])
            variants.append((cv2.flip(image, 1), flipped_box, flipped_pts))
            for deg in (-15.0, 15.0):
                centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
                m = cv2.getRotationMatrix2D(centre, deg, 1.0)
                rotated = cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR)
                variants.append((rotated, box, pts @ m[:, :2].T + m[:, 2]))
        for img, b, p in variants:
            verts, _ = mesh.mesh(img, roi_from_detection(detection_from_landmarks(b, p)))
            out.append((verts[:, :2], p))
    return out


def candidate_vertices(data: list, k: int) -> np.ndarray:
    """(68, k) vertex indices: the nearest vertex first, then its k-1 closest neighbours on the
    average face (vertices normalised by the eye-corner distance)."""
    normed = []
    for verts, _ in data:
        v = verts - verts[MESH68_NEAREST[[36, 45]]].mean(0)
        a = math.atan2(*(verts[MESH68_NEAREST[45]] - verts[MESH68_NEAREST[36]])[::-1])
        c, s = math.cos(a), math.sin(a)
        scale = np.linalg.norm(verts[MESH68_NEAREST[45]] - verts[MESH68_NEAREST[36]])
        normed.append(v @ np.array([[c, -s], [s, c]]) / scale)
    mean = np.mean(normed, axis=0)
    d = np.linalg.norm(mean[MESH68_NEAREST][:, None] - mean[None], axis=2)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def fit_weights(data: list, cand: np.ndarray, ridge: float) -> np.ndarray:
    """(68, k) weights summing to 1, ridge-regularised towards the one-hot nearest vertex; each face's
    rows are scaled by 1/IOD so every face counts the same."""
    k = cand.shape[1]
    basis = np.eye(k)[:, 1:] - np.eye(k)[:, :1]  # columns sum to 0: w = e0 + basis @ z keeps sum 1
    weights = np.zeros(cand.shape)
    for j in range(68):
        rows, target = [], []
        for verts, gt in data:
            iod = np.linalg.norm(gt[45] - gt[36])
            v = verts[cand[j]] / iod  # (k, 2)
            rows.append(v.T @ basis)  # (2, k-1)
            target.append(gt[j] / iod - v[0])
        a, b = np.concatenate(rows), np.concatenate(target)
        z = np.linalg.solve(a.T @ a + ridge * len(data) / 100 * np.eye(k - 1), a.T @ b)
        weights[j] = np.eye(k)[0] + basis @ z
    return weights


def apply(verts: np.ndarray, cand: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return (verts[cand] * weights[..., None]).sum(axis=1)


def roi_calibration(faces: list) -> tuple[float, float, int]:
    """(median ROI side / 68-point box side, median upward shift / box side, faces used)."""
    detector = create_detector("blazeface")
    ratios, shifts = [], []
    for path, box, pts in faces:
        found = detector.detect(cv2.imread(str(path)))
        centres = [(d.box[:2] + d.box[2:]) / 2 for d in found]
        near = [d for d, c in zip(found, centres, strict=True)
                if np.linalg.norm(c - (box[:2] + box[2:]) / 2) < 0.3 * (box[2] - box[0])]
        if not near:
            continue
        roi = roi_from_detection(near[0])
        a = roll_angle(pts[36:42].mean(0), pts[42:48].mean(0))
        to_face = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])  # rotate by -a
        upright = pts @ to_face.T
        lo, hi = upright.min(0), upright.max(0)
        side = float(max(hi - lo))
        centre = to_face @ np.array(roi.center)
        ratios.append(roi.size / side)
        shifts.append(((lo + hi) / 2 - centre)[1] / side)
    return float(np.median(ratios)), float(np.median(shifts)), len(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--ridge", type=float, default=1.0)
    args = parser.parse_args()
    folder = args.data / "images" / "landmarks"
    mesh = FaceMeshLandmarker(mapping="nearest")
    train = samples(read_imglab(folder / "training_with_face_landmarks.xml"), mesh, augment=True)
    test = samples(read_imglab(folder / "testing_with_face_landmarks.xml"), mesh, augment=False)
    cand = candidate_vertices(train, args.k)
    weights = fit_weights(train, cand, args.ridge)
    for name, data in (("train (augmented)", train), ("test", test)):
        base = np.mean([nme(v[MESH68_NEAREST], g) for v, g in data])
        fitted = np.mean([nme(apply(v, cand, weights), g) for v, g in data])
        print(f"{name:18s} faces {len(data):3d}  NME nearest {base:.4f}  fitted {fitted:.4f}")
    scale, shift, n = roi_calibration(read_imglab(folder / "training_with_face_landmarks.xml"))
    print(f"roi_from_landmarks over {n} training faces: _LM_SCALE = {scale:.2f}, _LM_SHIFT = {shift:.2f}")
    print("_MESH68_FIT = (  # (vertex, weight) pairs per iBUG point, from scripts/fit_mesh68.py")
    for j in range(68):
        pairs = ", ".join(f"({int(i)}, {w:.3f})" for i, w in zip(cand[j], weights[j], strict=True))
        print(f"    ({pairs}),")
    print(")")


if __name__ == "__main__":
    main()
