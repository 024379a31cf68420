"""The model side of the frame engine: cut each face the way training saw it, run the model in
batches, blend the results back.

Training fed the model the central `coverage` of the extracted crop resized to `size` (face/align.py
`crop_box`); `model_matrix` maps frame pixels straight onto that view, so a face is warped once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..face.align import crop_box, invert_matrix, matrix_scale, transform_points, view_matrix
from ..face.pose import PoseRange, head_pose
from ..media.warp import warp_crop
from .blend import BlendSettings, paste_face
from .frames import FaceJob, FaceResult, FrameJob
from .names import FAMILIAR_POSE, KEEP_POSE, UNSEEN_POSE


@dataclass
class SwapStats:
    faces_swapped: int = 0
    frames_with_swap: int = 0
    model_seconds: float = 0.0
    blend_seconds: float = 0.0
    mark_seconds: float = 0.0
    # faces at head poses the drawn identity was not trained at (farther than FAMILIAR_POSE from them)
    faces_at_unseen_pose: int = 0
    faces_faded: int = 0  # of those, drawn faded towards the target's own face (--unseen-pose fade)
    faces_left_alone: int = 0  # and those left as they were (--unseen-pose keep, or faded all the way)
    farthest_pose: float = 0.0  # degrees from the trained poses, the most of any face


def pose_strength(distance: float, mode: str) -> float:
    """How much of the swap shows on a face `distance` degrees from the poses the model was trained at."""
    if mode == "swap" or distance <= FAMILIAR_POSE:
        return 1.0
    if mode == "keep":
        return 0.0 if distance > KEEP_POSE else 1.0
    return float(np.clip((UNSEEN_POSE - distance) / (UNSEEN_POSE - FAMILIAR_POSE), 0, 1))


def load_swap_model(model_dir: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    from ..models import load_model

    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise InputError(f"model folder not found: {model_dir}; train one with `facesmith train`")
    if not model_dir.is_dir():
        raise InputError(f"{model_dir} is not a model folder (expected the folder `facesmith train -o` made)")
    try:
        model, config = load_model(model_dir, device=device)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{model_dir} holds a checkpoint this facesmith cannot use ({e})") from None
    if not hasattr(model, "swap") or "size" not in model.config or "coverage" not in model.config:
        raise InputError(f"{model_dir} holds a model without the swap interface; retrain it with this facesmith")
    from ..models.occlusion import load_occlusion
    from ..models.upscaler import load_upscaler

    model.upscaler = load_upscaler(model_dir, device)  # the per-identity upscaler, None where none was trained
    model.occlusion = load_occlusion(model_dir, device)  # what covers a face (train --occlusion), or None
    # the head poses each identity was trained at; models from before they were recorded: none
    model.poses = {side: PoseRange(cells) for side, cells in (config.get("poses") or {}).items()}
    return model, config


def use_bf16(device: torch.device, precision: str) -> bool:
    """bf16 inference where the hardware does it natively: half the time of fp32 on CPUs with
    AVX512-BF16/AMX; measured on a trained lite model, outputs differ from fp32 by 0.07/255 on
    average and at most 0.5/255, below 8-bit rounding."""
    if precision == "fp32":
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "mps":  # Metal: fp32 unless bf16 is asked for
        return precision == "bf16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    if precision == "bf16" and not native:
        raise InputError("--precision bf16: this CPU has no native bf16 support; use fp32 or auto")
    return native


class FaceSwapper:
    def __init__(self, model: torch.nn.Module, direction: str, blend: BlendSettings, device: str = "cpu",
                 precision: str = "auto"):
        if direction not in ("a2b", "b2a"):
            raise InputError(f"--direction must be a2b or b2a, not {direction!r}")
        if precision not in ("auto", "fp32", "bf16"):
            raise InputError(f"--precision must be auto, fp32 or bf16, not {precision!r}")
        self.model, self.direction, self.device = model, direction, torch.device(device)
        self.bf16 = use_bf16(self.device, precision)
        self.size = int(model.config["size"])
        self.coverage = float(model.config["coverage"])
        upscaler = getattr(model, "upscaler", None)
        self.scale = int(upscaler.config["scale"]) if upscaler is not None else 1  # output = scale x input side
        self.occlusion = getattr(model, "occlusion", None)  # the model's own (train --occlusion), or None
        # the poses of the identity it draws (A when B's faces are drawn as A)
        self.pose_range: PoseRange | None = getattr(model, "poses", {}).get("a" if direction == "b2a" else "b")
        self.learns_mask = bool(model.config.get("learns_mask"))
        self.blend = blend.validate(self.learns_mask)
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.dtype = torch.bfloat16 if self.bf16 else torch.float32
        self.model = self.model.to(self.dtype)  # cast once (autocast would cast the weights every batch)
        self.stats = SwapStats()

    def model_matrix(self, face: FaceJob) -> np.ndarray:
        """2x3 taking frame pixels to the model's input pixels."""
        return view_matrix(face.unit, face.crop_size, self.coverage, self.size)

    def crop(self, image: np.ndarray, face: FaceJob, matrix: np.ndarray) -> np.ndarray:
        """The model's view of a face, made as training made it: the aligned crop at its extracted
        resolution, then an area-averaging resize to the model size (a direct warp would alias:
        31-37 dB from this). The crop at the extracted resolution is bilinear even where it enlarges
        the face (extract's own crops are bicubic there): after the reduction the two agree to 49 dB
        PSNR or better (two_people_720p), and the bicubic warp cost 8x as much (~1 ms a face)."""
        side = crop_box(face.crop_size, self.coverage)[1]
        if side <= self.size:  # one warp: bicubic unless it shrinks 2x or more (bilinear: warpAffine
            # has no area mode), since a bilinear warp blurs what a fine model can keep
            fine = cv2.INTER_CUBIC if matrix_scale(matrix) >= 0.5 else cv2.INTER_LINEAR
            return warp_crop(image, matrix, self.size, flags=fine, border=cv2.BORDER_REFLECT101)
        # reduced by 2x or more, the area average hides the bilinear warp's blur; less, it shows
        fine = cv2.INTER_CUBIC if side < 2 * self.size else cv2.INTER_LINEAR
        view = warp_crop(image, matrix * (side / self.size), side, flags=fine, border=cv2.BORDER_REFLECT101)
        return cv2.resize(view, (self.size, self.size), interpolation=cv2.INTER_AREA)

    @torch.inference_mode()
    def render(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, S, S, 3) uint8 BGR crops -> swapped faces (same layout) and masks (N, S, S) or None."""
        x = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        x = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()
        faces, masks = self.model.swap(x.to(self.dtype), direction=self.direction)
        if self.scale > 1:
            faces = self.model.upscaler(faces.to(self.dtype))
            if masks is not None:
                masks = torch.nn.functional.interpolate(masks.float(), scale_factor=self.scale, mode="bilinear")
        out = faces.float().clamp_(0, 1).mul_(255).add_(0.5).permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
        m = masks[:, 0].float().cpu().numpy() if masks is not None else None
        return out, m

    def infer(self, frames: list[FrameJob]) -> Inferred:
        """Cut every face of `frames` and run the model on them as one batch."""
        t0 = time.perf_counter()
        faces = [(fi, face) for fi, job in enumerate(frames) for face in job.faces]
        matrices = [self.model_matrix(face) for _, face in faces]
        out, masks, crops, visible = None, None, [], None
        unseen = [self.unseen(frames[fi].image, face) for fi, face in faces]
        if faces:
            crops = [self.crop(frames[fi].image, face, m) for (fi, face), m in zip(faces, matrices, strict=True)]
            out, masks = self.render(crops)
            if self.blend.occlusion and self.occlusion is not None:
                visible = self.visible(crops)
        self.stats.model_seconds += time.perf_counter() - t0
        return Inferred(frames, faces, matrices, out, masks, crops, visible, unseen)

    def unseen(self, image: np.ndarray, face: FaceJob) -> float:
        """Degrees from the face's head pose to the poses the drawn identity was trained at (0: unknown)."""
        if self.pose_range is None:
            return 0.0
        yaw, pitch, _ = head_pose(face.points, (image.shape[1], image.shape[0]))
        return self.pose_range.distance(yaw, pitch)

    def visible(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, S, S) float32: where nothing covers each original face (1) and where something does (0)."""
        from ..face.occlusion import covered_crops

        p = covered_crops(crops, self.occlusion)
        # a dead zone: unsure pixels (p < 0.3) stay swapped, so a clean face is not speckled with its own
        return np.clip((0.7 - p) / 0.4, 0, 1).astype(np.float32)

    def _pose_strength(self, distance: float, mode: str) -> float:
        strength = pose_strength(distance, mode)
        if distance > FAMILIAR_POSE:
            s = self.stats
            s.faces_at_unseen_pose += 1
            s.farthest_pose = max(s.farthest_pose, distance)
            s.faces_faded += 0 < strength < 1
            s.faces_left_alone += strength <= 0
        return strength

    def paste(self, inferred: Inferred, done: Callable[[FrameJob, list[FaceResult]], None]) -> None:
        """Blend the model's faces into their frames (in place). `done(frame, faces)` is called for
        each frame, in order, as soon as its faces are in (the frame's face regions are still in this
        core's cache then). The blend settings are read once a frame: they may change between frames."""
        by_frame: list[list[int]] = [[] for _ in inferred.frames]
        for k, (fi, _) in enumerate(inferred.faces):
            by_frame[fi].append(k)
        for fi, job in enumerate(inferred.frames):
            t0 = time.perf_counter()
            blend = self.blend
            results = []
            for k in by_frame[fi]:
                face, m, crop = inferred.faces[k][1], inferred.matrices[k], inferred.crops[k]
                hull = transform_points(face.hull, invert_matrix(face.unit))
                learned = inferred.masks[k] if inferred.masks is not None else None
                visible = inferred.visible[k] if inferred.visible is not None and blend.occlusion else None
                if self.scale > 1:  # the upscaler's output: matrix to its pixels, colour reference at its size
                    m = m * self.scale
                    m[:, 2] += 0.5 * (self.scale - 1)  # pixel centres: u = k * p + (k - 1) / 2
                    out_side = inferred.out[k].shape[:2][::-1]
                    crop = cv2.resize(crop, out_side, interpolation=cv2.INTER_CUBIC)
                    if visible is not None:
                        visible = cv2.resize(visible, out_side, interpolation=cv2.INTER_LINEAR)
                strength = self._pose_strength(inferred.unseen[k], blend.unseen_pose)
                region = None if strength <= 0 else paste_face(job.image, inferred.out[k], learned, m, hull, blend,
                                                               crop, face.points, visible, strength)
                results.append(FaceResult(face.track, face.points, region is not None, region))
            swapped = sum(r.swapped for r in results)
            self.stats.faces_swapped += swapped
            self.stats.frames_with_swap += bool(swapped)
            self.stats.blend_seconds += time.perf_counter() - t0
            done(job, results)


@dataclass
class Inferred:
    frames: list[FrameJob]
    faces: list[tuple[int, FaceJob]]  # (frame position in `frames`, face)
    matrices: list[np.ndarray]
    out: np.ndarray | None
    masks: np.ndarray | None
    crops: list[np.ndarray]  # the model's inputs: the original faces in model space
    visible: np.ndarray | None = None  # (N, S, S) where nothing covers each original face (--occlusion)
    unseen: list[float] = field(default_factory=list)  # per face: degrees from the drawn identity's trained poses

