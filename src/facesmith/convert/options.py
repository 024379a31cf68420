"""`ConvertOptions`: what `facesmith convert` and `facesmith.convert(...)` take, each default written once.

The blending and output options are shared with `facesmith swap` (`BLEND_OPTIONS`, `OUTPUT_OPTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ..devices import DEVICES
from ..engine.names import COLORS, FAMILIAR_POSE, KEEP_POSE, MASKS, MOUTHS, UNSEEN_POSE, UNSEEN_POSES
from ..errors import InputError
from ..face import SAME_PERSON_THRESHOLD
from ..media.encoding import PRESETS
from ..options import option, parse_time

if TYPE_CHECKING:
    from ..engine.blend import BlendSettings


@dataclass(frozen=True)
class ConvertOptions:
    direction: str = option("auto", "which way to swap: b2a draws B's faces as A (auto: the side whose faceset "
                                    "holds TARGET, else b2a)", choices=["auto", "a2b", "b2a"])
    alignments: str | None = option(None, "faceset folder holding TARGET's alignments", metavar="FACESET_DIR")
    detect: bool = option(False, "ignore stored alignments and detect the faces again (also: --detector NAME)")
    detector: str = option("blazeface", "face detector when detecting (default %(default)s)")
    start: float | None = option(None, "start time in a video TARGET (seconds or M:S): convert from here",
                                 type=parse_time)
    end: float | None = option(None, "end time in a video TARGET (seconds or M:S): convert up to here",
                               type=parse_time)
    preview: int = option(0, "write a before/after PNG sheet of N sampled frames instead of converting",
                          metavar="N")
    # blending (shared with swap)
    mask: str = option("auto", "face mask: landmark hull, the model's learned mask, or both (auto: both when "
                               "the model learns a mask, else hull)", choices=MASKS)
    erode: float | None = option(None, "shrink the mask by PX output pixels, negative grows it (default: 3%% of "
                                       "the face)", metavar="PX")
    feather: float | None = option(None, "width of the soft mask edge in output pixels (default: 8%% of the face)",
                                   metavar="PX")
    color: str = option("reinhard", "colour matching to the target face: reinhard (Lab mean/std, default), "
                                    "histogram, seamless (Poisson clone) or none", choices=COLORS)
    sharpen: float = option(0.0, "unsharp-mask amount, 0..5 (default %(default)s)", metavar="AMOUNT")
    mouth: str = option("swap", "keep: where the target opens its mouth, its own teeth and tongue stay (for a "
                                "source that rarely opens its mouth; default %(default)s)", choices=MOUTHS)
    occlusion: bool = option(False, "keep what covers the target's face (a hand, a pen, hair) in front of the "
                                    "swapped face (the model's own network finds it: train --occlusion)")
    unseen_pose: str = option("swap", f"at head poses the model never saw the source at (more than "
                                      f"{FAMILIAR_POSE:g} degrees from its faceset's): swap anyway (default), fade "
                                      f"back to the target's own face by {UNSEEN_POSE:g} degrees, or keep the "
                                      f"target's face from {KEEP_POSE:g}",
                              choices=UNSEEN_POSES)
    smooth: int = option(2, "average each face's alignment over +-N frames against jitter (0: off; default "
                            "%(default)s)", metavar="N")
    all_faces: bool = option(False, "swap every face, not only those that look like the trained identity")
    threshold: float = option(SAME_PERSON_THRESHOLD, "identity distance under which a face counts as the trained "
                                                     "person (default %(default)s)")
    # output (shared with swap)
    crf: float = option(18, "H.264 quality: 0 lossless .. 51 worst (default %(default)s)")
    preset: str = option("veryfast", "x264 speed preset (default %(default)s)", choices=PRESETS)
    overwrite: bool = option(False, "replace OUT if it exists")
    allow_empty: bool = option(False, "write the output even when no face was swapped (default: refuse)")
    watermark: bool = option(True, "do not watermark the swapped faces' pixels (the output is still tagged as "
                                   "synthetic)", flag="--no-watermark")
    # the model
    batch_size: int = option(16, "faces per model batch (default %(default)s)")
    device: str = option("auto", "", choices=DEVICES)
    precision: str = option("auto", "model arithmetic (auto: bf16 where the hardware has it natively, else fp32)",
                            choices=["auto", "fp32", "bf16"])
    threads: int = option(0, "CPU threads for the model (default: half the cores; decoding and encoding use the "
                             "rest)", metavar="N")

    def validate(self) -> None:
        if self.direction not in ("auto", "a2b", "b2a"):
            raise InputError(f"--direction must be a2b, b2a or auto, not {self.direction!r}")
        if not 1 <= self.batch_size <= 512:
            raise InputError("--batch-size must be between 1 and 512")
        if not 0 <= self.smooth <= 30:
            raise InputError("--smooth must be between 0 and 30 frames")
        if self.preset not in PRESETS:
            raise InputError(f"--preset must be one of {', '.join(PRESETS)}")
        if not 0 <= self.crf <= 51:
            raise InputError("--crf must be between 0 and 51")
        if self.preview < 0:
            raise InputError("--preview must be a number of frames (1 or more)")
        if self.threads < 0:
            raise InputError("--threads must be 0 (automatic) or more")
        if not 0 < self.threshold < 2:
            raise InputError("--threshold must be between 0 and 2")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InputError("--end must be after --start")

    def blend(self) -> BlendSettings:
        from ..engine.blend import BlendSettings

        return BlendSettings(self.mask, self.erode, self.feather, self.color, self.sharpen, self.mouth,
                             self.occlusion, self.unseen_pose)


BLEND_OPTIONS = ("mask", "erode", "feather", "color", "sharpen", "mouth", "occlusion", "unseen_pose", "smooth", "all_faces",
                 "threshold")
OUTPUT_OPTIONS = ("crf", "preset", "overwrite", "allow_empty", "watermark")


class ConvertSummary(TypedDict, total=False):
    """What `convert()` returns (and `facesmith convert --json` prints)."""

    output: str
    kind: str  # video | frames | image | preview
    direction: str
    frames: int
    faces_found: int
    faces_swapped: int
    frames_with_swap: int
    alignments: list[str]  # per target file: the faceset whose alignments were used, or "detected"
    identity_check: list[str] | str
    blend: dict[str, Any]  # the BlendSettings used ("auto" resolved)
    model_fingerprint: str
    watermark: bool
    seconds: float
    frames_per_second: float
    model_seconds: float
    blend_seconds: float
    watermark_seconds: float
    unseen_pose: dict[str, Any]  # --unseen-pose: its mode, faces beyond the trained poses, faded, left alone
    setup_seconds: float
    frames_written: int  # video and frames outputs
    audio_packets_copied: int
    padded_to_even_size: bool
    preview_frames: int  # --preview
    sheet_size: list[int]
