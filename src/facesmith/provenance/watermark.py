"""The pixel watermark: informed spread spectrum in the chroma of the aligned face crop.

Three formats (`Scheme`): v1 (128-px crop, 4x4-px cells; read only), v2 (80-px crop: cells of 6.4 px
at v1's scale, each bit also driven on a blurred copy of the crop, payload v2; read only) and v3,
written now (v2's geometry, its own chips, payload v3: 96 bits, 64 of them a known presence word). What
follows describes v1; v2 and v3 differ only in those numbers (see V2 and V3 below).

Geometry. Scaling and cropping a video moves and resizes faces; the face aligner undoes both. Each
face is warped to the canonical 128-px aligned crop (`face.align`, the same similarity transform
extract and convert use), marked there, and only the difference is warped back into the frame. A
verifier finds the face again (detector + 68 landmarks), warps it to the same crop and reads the
mark: re-detected landmarks land within ~0.6 px of the embedder's in crop pixels.

Signal. The crop is divided into 4x4-px cells (32x32, minus a border); each cell carries one payload
bit times a fixed pseudo-random chip (+-1), cells are assigned to bits by a fixed permutation so every
bit is spread over the whole face (~12 cells per bit). The pattern is added to the Cr and Cb channels:
skin is nearly flat in chroma, so the host interferes far less than in luma (measured: luma-only
decoding stayed below 70% correct bits at the same distortion), and chroma noise is less visible.

Decoding is a correlation: high-pass the channel (minus a Gaussian blur), average each cell, multiply
by its chip and average per bit, weighting each cell by 1 / (local residual energy) so edges (eyes,
glasses, hairline) count less. Embedding is *informed*: it measures that same statistic on the
unmarked crop and sets each bit's amplitude so the marked crop reads +-TARGET (Malvar & Florencio's
improved spread spectrum), iterating a few times because the decoder is non-linear. Only its last
step (clip and weights on the 32x32 cell grid) is: filtering and cell averaging are linear, so the
marked crop's grid is the unmarked crop's plus a sum of per-bit unit grids computed once, and the
iterations never touch pixels. A face's mark is planned here (`plan_face`: the pattern over the
square it can reach, and where that square lies in the frame) and then added as 8-bit fixed point
over the footprint of that square only: to a BGR frame (`pixels.add_to_bgr`: photos, previews), or to the
half-resolution U and V planes of a video frame after the writer's conversion (`pixels.add_to_chroma`:
a quarter of the pixels in one channel, with U and V gains probed so that the decoded frame's Cr
and Cb move by the pattern, whatever the file's colour matrix; its luma is left alone).

Why not invisible-watermark (or blind-watermark): both use quantisation index modulation of block
SVD/DCT values, which needs the exact pixel grid and amplitude. Measured in this same aligned-crop
setting on identity_b (12 frames, 64 bits, per face): invisible-watermark dwtDctSvd/dwtDct read
55-85% of bits even with no attack beyond H.264 CRF 18 and re-detection, 55-65% after CRF 28, half
scale or 10% crop, whatever the block size (4, 8), channel (Y, U) or crop size (128, 256);
blind-watermark read 47-70% at 38-137 ms per face. This scheme reads 95-100% under those attacks at
~1.3 ms per face. The transforms used here are OpenCV's (colour conversion, Gaussian filters, area
resampling); only the spreading and the informed amplitudes are ours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ..face.align import alignment_matrix, invert_matrix
from ..media.warp import warp_crop
from . import payload


@dataclass(frozen=True)
class Scheme:
    """One format of the mark: crop size, cell size and the decoder's filters, in crop pixels. The
    embedder and every verifier must agree on these forever: a new format is a new Scheme."""

    version: int
    size: int  # aligned crop side
    cell: int  # px of the crop per cell
    border: int  # px of the crop left unmarked at its edge (resampling there reads outside the face)
    seed: int  # of the cell-to-bit permutation and the chips
    nbits: int = payload.NBITS
    target: float = 2.0  # the decoder statistic each bit is driven to, in chroma levels
    amp_max: float = 4.0  # cap on a bit's amplitude (chroma levels): bounds visibility where the host fights
    amp_min: float = 0.5
    hp_sigma: float = 3.0  # high-pass: removes the face's own (smooth) chroma before correlating
    smooth_sigma: float = 1.0  # the pattern is blurred: no sharp cell edges (invisible, lost to codecs anyway)
    noise_floor: float = 9.0  # cell weights are 1 / (noise_floor + local residual energy)
    clip: float = 9.0  # cell values are clipped to +-clip: one specular highlight cannot outvote a bit
    # The embedder also drives each bit's reading of the crop blurred by this much (crop px; 0: not)
    # to +-target: what a downscale and re-encode leave of the face (see _informed_amplitudes).
    degrade_sigma: float = 0.0


# v1: 4x4-px cells of a 128-px crop, ~12 cells per bit. Read only (files made before v2).
V1 = Scheme(version=1, size=128, cell=4, border=6, seed=0xFACE5)
# v2: the same design on an 80-px crop, so every cell is 6.4x6.4 px of v1's crop (~7 cells per bit): it
# survives a downscale and 4:2:0 chroma on ~100-px faces better and costs ~40% of v1's crop work; the
# embedder also drives every bit on the blurred crop (degrade_sigma), and it carries payload v2
# (CRC-32 checked, soft-decoded over the whole video: payload.py, evidence.py). Measured against
# 64-px (8-px cells) and 96-px crops, and blur 0-3 px, in benchmarks/watermark_attacks.py.
V2 = Scheme(version=2, size=80, cell=4, border=3, seed=0xFACE52, amp_max=6.0, degrade_sigma=3.0)
# v3 (written now): v2's geometry with its own chips and payload v3, 96 bits of ~3.4 cells each, 64 of
# them the known PRESENCE word that a blind verify tests (payload.py, evidence.presence_test). Driven to
# a lower target than v2: with fewer cells per bit the host opposes more bits, and at v2's target the
# pattern came out ~7% stronger than v2's; at 1.8 it is no stronger (benchmarks/watermark_attacks.py).
V3 = Scheme(version=3, size=80, cell=4, border=3, seed=0xFACE53, nbits=payload.V3_NBITS, target=1.8,
            amp_max=6.0, degrade_sigma=3.0)
SCHEMES = {1: V1, 2: V2, 3: V3}
WRITTEN = V3
CHANNELS = (1, 2)  # Cr, Cb of YCrCb
SIZE = V1.size  # the scale of the aligned-crop geometry the marker and verifier measure in
ITERATIONS = 3
TARGET = WRITTEN.target
AMP_MIN, AMP_MAX = WRITTEN.amp_min, WRITTEN.amp_max


@dataclass(frozen=True)
class _Layout:
    scheme: Scheme
    grid: int
    cells: np.ndarray  # flat indices of the marked cells in the grid x grid cell array
    chip: np.ndarray  # +-1 per cell
    bit_of: np.ndarray  # payload bit index per cell
    gain: float  # decoder output for a unit pattern (normalises the statistic to amplitude units)
    units: np.ndarray  # (nbits, grid * grid): the decoder's cell grid for bit b's pattern at amplitude +1
    reach: tuple[int, int]  # crop pixels [lo, hi) (both axes) outside which every pattern is exactly 0
    mirror: np.ndarray  # for each marked cell, the index (into cells) of its mirror image
    degraded_units: np.ndarray  # as units, for the pattern blurred by degrade_sigma, in its own gain
    degraded_gain: float


@functools.cache
def layout(scheme: Scheme = WRITTEN) -> _Layout:
    grid = scheme.size // scheme.cell
    nbits = scheme.nbits
    yy, xx = np.mgrid[0:grid, 0:grid]
    b = -(-scheme.border // scheme.cell)
    inside = (yy >= b) & (yy < grid - b) & (xx >= b) & (xx < grid - b)
    cells = np.flatnonzero(inside.ravel())
    rng = np.random.default_rng(scheme.seed)  # fixed: embedder and verifier must agree forever
    bit_of = np.empty(len(cells), np.int64)
    bit_of[rng.permutation(len(cells))] = np.arange(len(cells)) % nbits
    chip = rng.choice(np.array([-1.0, 1.0], np.float32), len(cells))
    position = {c: i for i, c in enumerate(cells)}
    mirror = np.array([position[(c // grid) * grid + grid - 1 - c % grid] for c in cells])
    none = np.empty(0)
    unit = _Layout(scheme, grid, cells, chip, bit_of, 1.0, none, (0, scheme.size), mirror, none, 1.0)
    gain = float(_bits(_grid(_pattern(unit, chip), unit), unit).mean())
    unit = _Layout(scheme, grid, cells, chip, bit_of, gain, none, (0, scheme.size), mirror, none, 1.0)
    units = np.stack([_grid(_pattern(unit, chip * (bit_of == k)), unit).ravel() for k in range(nbits)])
    used = np.flatnonzero(_pattern(unit, np.ones(len(cells), np.float32)).any(axis=0))
    degraded, degraded_gain = none, 1.0
    if scheme.degrade_sigma:
        degraded_gain = float(_bits(_grid(_degraded(_pattern(unit, chip), scheme), unit), unit).mean())
        degraded = np.stack([_grid(_degraded(_pattern(unit, chip * (bit_of == k)), scheme), unit).ravel()
                             for k in range(nbits)]) / degraded_gain
    return _Layout(scheme, grid, cells, chip, bit_of, gain, units, (int(used[0]), int(used[-1]) + 1), mirror,
                   degraded, degraded_gain)


def _degraded(channel: np.ndarray, scheme: Scheme) -> np.ndarray:
    return cv2.GaussianBlur(channel, (0, 0), scheme.degrade_sigma)


def _pattern(lay: _Layout, cell_values: np.ndarray) -> np.ndarray:
    g = np.zeros(lay.grid * lay.grid, np.float32)
    g[lay.cells] = cell_values
    size = lay.scheme.size
    p = cv2.resize(g.reshape(lay.grid, lay.grid), (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.GaussianBlur(p, (0, 0), lay.scheme.smooth_sigma)


def _grid(channel: np.ndarray, lay: _Layout) -> np.ndarray:
    """The decoder's linear part: high-passed, smoothed, averaged per cell (grid x grid), in amplitude
    units. Linear in the channel, so the grid of (crop + pattern) is grid(crop) + grid(pattern)."""
    r = channel - cv2.GaussianBlur(channel, (0, 0), lay.scheme.hp_sigma)
    r = cv2.GaussianBlur(r, (0, 0), lay.scheme.smooth_sigma)  # matched to the pattern's own blur
    return cv2.resize(r, (lay.grid, lay.grid), interpolation=cv2.INTER_AREA) / lay.gain


def _cell_terms(grid: np.ndarray, lay: _Layout, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(terms, weights) per marked cell: the cell's value times its chip, clipped, times its weight (its
    local quiet), and that weight. `mirrored`: the grid is of a mirrored picture (each cell is read
    where its mirror image lies)."""
    s = lay.scheme
    cells = lay.cells[lay.mirror] if mirrored else lay.cells
    v = np.clip(grid.ravel()[cells] * lay.chip, -s.clip, s.clip)
    w = 1.0 / (s.noise_floor + cv2.blur(grid * grid, (3, 3)).ravel()[cells])
    return v * w, w


def _bits(grid: np.ndarray, lay: _Layout, mirrored: bool = False) -> np.ndarray:
    """Per-bit correlation of a cell grid with the chips, each cell weighted by its local quiet."""
    terms, w = _cell_terms(grid, lay, mirrored)
    return np.bincount(lay.bit_of, terms, lay.scheme.nbits) / np.bincount(lay.bit_of, w, lay.scheme.nbits)


def _chroma(crop_bgr: np.ndarray) -> list[np.ndarray]:
    ycc = cv2.cvtColor(crop_bgr.astype(np.float32), cv2.COLOR_BGR2YCrCb)
    return [np.ascontiguousarray(ycc[..., c]) for c in CHANNELS]


def _crop_grids(crop_bgr: np.ndarray, lay: _Layout) -> list[np.ndarray]:
    return [_grid(c, lay) for c in _chroma(crop_bgr)]


def _aligned(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return warp_crop(frame, matrix, size, border=cv2.BORDER_REFLECT101)


@dataclass(frozen=True)
class FaceMark:
    """One face's watermark, planned but not yet in any pixel (`pixels.add_to_bgr` adds it)."""

    pattern: np.ndarray  # float32 (n, n): the value added to Cr and to Cb over the square it reaches
    to_frame: np.ndarray  # 2x3: pixels of that square -> frame pixels
    amplitudes: np.ndarray  # per-bit amplitudes the informed embedding chose


def plan_face(frame: np.ndarray, points: np.ndarray, bits: np.ndarray, scheme: Scheme = WRITTEN) -> FaceMark:
    """The mark for one face (68 landmarks, frame pixels) of a BGR uint8 frame."""
    lay = layout(scheme)
    matrix = alignment_matrix(points, scheme.size)
    sign = 2.0 * bits.astype(np.float32) - 1.0
    amp = _informed_amplitudes(_aligned(frame, matrix, scheme.size), sign, lay)
    lo, hi = lay.reach
    matrix[:, 2] -= lo  # frame -> pixels of the [lo, hi) square, outside which the pattern is 0
    pattern = _pattern(lay, lay.chip * (sign * amp)[lay.bit_of])
    return FaceMark(np.ascontiguousarray(pattern[lo:hi, lo:hi]), invert_matrix(matrix), amp)


def _informed_amplitudes(crop: np.ndarray, sign: np.ndarray, lay: _Layout) -> np.ndarray:
    """Per-bit amplitudes that make the decoder read each bit of this crop as +-target."""
    s = lay.scheme
    chroma = _chroma(crop)
    # An attack that blurs the face (downscale, 4:2:0, a codec) weakens the mark more than the face's
    # own chroma in the same band: bits the host opposed flip, on the same bits in every frame, which
    # no sum over frames repairs. So each bit is also driven to target on the blurred crop (blurred
    # in chroma: the colour conversion is affine per pixel, so that is the blurred crop's chroma).
    views = [([_grid(c, lay) for c in chroma], lay.units)]
    if s.degrade_sigma:
        views.append(([_grid(_degraded(c, s), lay) / lay.degraded_gain for c in chroma], lay.degraded_units))
    amp = np.zeros(len(sign), np.float32)
    for _ in range(ITERATIONS):
        # drive each bit's statistic to target: add what is missing to the current amplitude. The
        # decoder's grid of the marked crop is base + the pattern's grid, a sum of per-bit unit grids.
        missing: np.ndarray | None = None
        for grids, units in views:
            added = ((sign * amp) @ units).reshape(lay.grid, lay.grid)
            statistic = sum(_bits(g + added, lay) for g in grids) / len(grids)
            short = s.target - statistic * sign
            missing = short if missing is None else np.maximum(missing, short)
        amp = np.clip(amp + missing, s.amp_min, s.amp_max)
    return amp


def read_face(frame: np.ndarray, points: np.ndarray, scheme: Scheme = WRITTEN, mirrored: bool = False) -> np.ndarray:
    """Soft payload bits of one face: > 0 reads as 1; ~+-target on an unattacked marked face.
    `mirrored`: read it as a face of a mirrored picture (the aligner puts a mirrored face into the
    mirror image of its crop: the template is symmetric)."""
    lay = layout(scheme)
    grids = _crop_grids(_aligned(frame, alignment_matrix(points, scheme.size), scheme.size), lay)
    return sum(_bits(g, lay, mirrored) for g in grids) / len(grids)


def luma_only(frame: np.ndarray) -> np.ndarray:
    """The frame with its chroma removed (BGR, each channel its luma): what the marker and verify fit
    face landmarks on. The mark lives in chroma only, so fits there cannot move with it: on a smooth
    swapped face (an undertrained model) the mesh fitted in colour followed v2's pattern by 2-7 px."""
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


# What verify reads on each face: (layer name, scheme, mirrored).
LAYERS = (("v3", V3, False), ("v3-mirrored", V3, True), ("v2", V2, False), ("v2-mirrored", V2, True),
          ("v1", V1, False))
CELLS = "/cells"  # read_layers' key suffix for a layer's per-cell terms


def scheme_of(layer: str) -> Scheme:
    return next(s for name, s, _ in LAYERS if name == layer.removesuffix(CELLS))


def read_layers(frame: np.ndarray, points: np.ndarray) -> dict[str, np.ndarray]:
    """Per layer verify reads (`LAYERS`), one face's soft bits, and under "LAYER/cells" (v2 and v3)
    its per-cell terms (`_cell_terms`: what the tests for a known word sum, evidence.py). One crop per
    crop size, one cell grid per scheme."""
    out = {}
    crops: dict[int, np.ndarray] = {}
    grids_of: dict[int, list[np.ndarray]] = {}
    for name, scheme, mirrored in LAYERS:
        lay = layout(scheme)
        if scheme.size not in crops:
            crops[scheme.size] = _aligned(frame, alignment_matrix(points, scheme.size), scheme.size)
        if scheme.version not in grids_of:
            grids_of[scheme.version] = _crop_grids(crops[scheme.size], lay)
        grids = grids_of[scheme.version]
        read = [_cell_terms(g, lay, mirrored) for g in grids]
        n = scheme.nbits
        out[name] = sum(np.bincount(lay.bit_of, t, n) / np.bincount(lay.bit_of, w, n) for t, w in read) / len(read)
        if scheme.version >= 2:
            out[name + CELLS] = sum(t for t, _ in read) / len(read)
    return out
