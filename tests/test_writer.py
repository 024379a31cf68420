"""The video writer keeps a source's colour range: full-range (PC/JPEG) and limited-range (TV) files
decode to the right levels, and what convert writes back decodes to the same pixels, tagged alike."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from facesmith.media.video import iter_frames
from facesmith.media.writer import VideoWriter

SIDE = 64


def _planes(y_row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A luma ramp across the picture; chroma neutral in the top half, and below it bluish on the left,
    reddish on the right."""
    y = np.tile(y_row, (SIDE, 1))
    u = np.full((SIDE // 2, SIDE // 2), 128, np.uint8)
    v = u.copy()
    u[SIDE // 4:, : SIDE // 4], v[SIDE // 4:, SIDE // 4:] = 170, 170
    return y, u, v


def _make(path: Path, color_range: int, y_row: np.ndarray) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = SIDE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.color_range = color_range
        stream.options = {"qp": "0"}  # lossless: the file holds exactly these levels
        for i in range(3):
            frame = av.VideoFrame(SIDE, SIDE, "yuv420p")
            for plane, values in zip(frame.planes, _planes(y_row), strict=True):
                rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                rows[: values.shape[0], : values.shape[1]] = values
            frame.color_range = color_range
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.mark.parametrize(("color_range", "black", "white"), [(2, 0, 255), (1, 16, 235)])
def test_colour_range_is_decoded_and_written_back(tmp_path: Path, color_range: int, black: int, white: int) -> None:
    source, output = tmp_path / "source.mp4", tmp_path / "out.mp4"
    ramp = np.linspace(black, white, SIDE).round()
    _make(source, color_range, ramp.astype(np.uint8))
    before = [f.image for f in iter_frames(source)]
    # the neutral ramp reads as the range says: black..white -> 0..255 (a full-range file read as
    # limited would come out stretched, e.g. level 64 as 56)
    grey = before[0][SIDE // 4].astype(float)  # a row of the neutral top half
    expected = (ramp - black) * 255 / (white - black)
    assert np.abs(grey - expected[:, None]).max() <= 1.5

    writer = VideoWriter(output, source, crf=0)
    for frame in iter_frames(source):
        writer.write(frame.image, frame.time)
    writer.close()
    after = [f.image for f in iter_frames(output)]
    assert len(after) == len(before)
    # the same pixels: exactly (+-1) where the colour is neutral; elsewhere the coloured ramp leaves
    # the RGB gamut at its ends (clipped in BGR) and 4:2:0 chroma is resampled across its edges
    for a, b in zip(before, after, strict=True):
        diff = np.abs(a.astype(int) - b)
        assert diff[: SIDE // 2 - 4].max() <= 1 and diff.mean() < 1.5, (diff[: SIDE // 2 - 4].max(), diff.mean())
    tags = []
    for path in (source, output):
        with av.open(str(path)) as container:
            tags.append(next(container.decode(video=0)).color_range)
    assert tags[1] == tags[0]  # full range stays tagged full; limited stays limited (or unspecified)
    assert (tags[0] == 2) == (color_range == 2)


@pytest.mark.parametrize("turn", [(t, x, y) for t in (False, True) for x in (False, True) for y in (False, True)])
def test_orientation_turns_back_pictures_and_points(turn: tuple[bool, bool, bool]) -> None:
    """`to_stored` undoes `to_bgr`'s turn, and `stored_from_upright` sends each upright pixel where
    `to_stored` puts it (the writer puts watermarks into stored chroma planes with it)."""
    from facesmith.media.orientation import Orientation

    orientation = Orientation(*turn)
    stored = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)  # 6 wide, 4 high, all pixels distinct
    upright = orientation.to_bgr(av.VideoFrame.from_ndarray(stored, format="bgr24"))
    assert np.array_equal(orientation.to_stored(upright), stored)
    h, w = upright.shape[:2]
    m = orientation.stored_from_upright(w, h)
    for y in range(h):
        for x in range(w):
            sx, sy = (m @ (x, y, 1.0)).round().astype(int)
            assert np.array_equal(stored[sy, sx], upright[y, x]), (x, y)
