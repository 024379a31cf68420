"""The media input layer on real footage and photos from ../shared/data, and on variants made from them."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from facesmith.errors import InputError
from facesmith.media.images import image_size, read_image
from facesmith.media.inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaSource, expand_inputs, file_sha256
from facesmith.media.video import VideoDamagedError, iter_frames, probe_video, read_frame_at

from .conftest import IMAGES, VIDEOS
from .media_variants import (
    ODD_CROP,
    exif_reference_rgb,
    make_bad_inputs,
    make_exif_orientation_variants,
    make_image_variants,
    make_rotated_video,
    reference_rgb,
    remux_video,
    rotated_video_reference,
)

# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_image_variants(tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="module")
def orientation_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_exif_orientation_variants(tmp_path_factory.mktemp("orientations"))


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def identity_b_frames() -> list[tuple[int, float, str]]:
    """(index, time, md5 of pixels) of every frame of identity_b.mp4, decoded by a bare PyAV loop."""
    frames = []
    with av.open(str(VIDEOS / "identity_b.mp4")) as container:
        stream = container.streams.video[0]
        for i, frame in enumerate(container.decode(stream)):
            time = float((frame.pts - stream.start_time) * stream.time_base)
            frames.append((i, time, _digest(frame.to_ndarray(format="bgr24"))))
    return frames


def _digest(image: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest()


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, f"shape {a.shape} != expected {b.shape}"
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _assert_bgr8(image: np.ndarray) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.flags["C_CONTIGUOUS"]


def _one_line(error: pytest.ExceptionInfo[InputError]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# --- images ------------------------------------------------------------------------------------

_GREY_VARIANTS = {"grayscale", "la", "gray16"}
# Largest mean absolute difference (0..255) from the reference photo: 0 for lossless files; lossy
# re-encodes sit near 1-2. A missed EXIF turn changes the shape, a CMYK inversion gives ~118, a
# 16-bit reader that clips instead of scaling ~100, one that truncates (x >> 8) ~0.5 on png16.
_MAX_DIFF = {
    "grayscale": 0.01, "la": 0.01, "gray16": 0.01, "rgba": 0.0, "png16": 0.0, "bmp": 0.0, "tiff": 0.0,
    "palette": 4.0, "cmyk_jpeg": 2.5, "cmyk_jpeg_plain": 2.5, "exif_rotated": 2.5, "odd_size": 2.5,
    "very_large": 2.5, "webp": 3.0, "unicode_path": 2.5,
}


def _expected_bgr(name: str) -> np.ndarray:
    rgb = reference_rgb()
    if name in _GREY_VARIANTS:
        grey = np.asarray(Image.fromarray(rgb).convert("L"))  # the grey the variant was written with
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    if name == "odd_size":
        x0, y0, x1, y1 = ODD_CROP
        return bgr[y0:y1, x0:x1]
    return bgr


@pytest.mark.parametrize("name", sorted(_MAX_DIFF))
def test_image_variant_reads_upright_bgr_with_true_colours(image_variants: dict[str, Path], name: str) -> None:
    image = read_image(image_variants[name])
    _assert_bgr8(image)
    assert image_size(image_variants[name]) == (image.shape[1], image.shape[0])
    expected = _expected_bgr(name)
    if name == "very_large":
        assert max(image.shape[:2]) == 8000
        image = cv2.resize(image, expected.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert _mean_abs_diff(image, expected) <= _MAX_DIFF[name]


def test_image_size_is_the_upright_size(image_variants: dict[str, Path]) -> None:
    height, width = reference_rgb().shape[:2]
    assert image_size(image_variants["exif_rotated"]) == (width, height)
    assert image_size(image_variants["odd_size"]) == (333, 517)
    large_w, large_h = image_size(image_variants["very_large"])
    assert max(large_w, large_h) == 8000 and abs(large_w / large_h - width / height) < 0.01


def test_sixteen_bit_is_scaled_by_rounding_not_truncated(image_variants: dict[str, Path]) -> None:
    # The files hold x*257 +-120: only round(x / 257) gives back the 8-bit picture exactly.
    stored = cv2.imread(str(image_variants["png16"]), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16
    assert np.array_equal(read_image(image_variants["png16"]), _expected_bgr("png16"))
    assert not np.array_equal((stored >> 8).astype(np.uint8), _expected_bgr("png16"))


@pytest.mark.parametrize("name", [f"jpeg_{o}" for o in range(1, 9)] + ["png_6", "webp_6", "tiff_6"])
def test_every_exif_orientation_is_applied(orientation_variants: dict[str, Path], name: str) -> None:
    path = orientation_variants[name]
    expected = np.ascontiguousarray(exif_reference_rgb()[:, :, ::-1])
    with Image.open(path) as stored:  # the file itself is right: Pillow's own transpose agrees
        assert _mean_abs_diff(np.asarray(ImageOps.exif_transpose(stored).convert("RGB"))[:, :, ::-1], expected) < 3
    image = read_image(path)
    _assert_bgr8(image)
    assert _mean_abs_diff(image, expected) < 3
    assert image_size(path) == (expected.shape[1], expected.shape[0])


def test_webp_named_jpg_is_read_by_content() -> None:
    path = IMAGES / "identities" / "img47.jpg"  # really a WebP file
    assert expand_inputs([path]) == [MediaSource(path, "image")]
    image = read_image(path)
    with Image.open(path) as pil:
        assert pil.format == "WEBP"
        assert _mean_abs_diff(image, np.asarray(pil.convert("RGB"))[:, :, ::-1]) < 1
    assert image_size(path) == (image.shape[1], image.shape[0])


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds one scanline: only the header can be read."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width)))


def test_huge_images_are_refused_from_the_header(tmp_path: Path) -> None:
    over = tmp_path / "over_limit.png"
    over.write_bytes(_png_header_only(30000, 20000))  # 600 MP
    with pytest.raises(InputError) as error:
        read_image(over)
    assert "600 MP" in _one_line(error) and "limit" in str(error.value)
    assert image_size(over) == (30000, 20000)  # the size alone is fine to report
    # 400 MP in a few KB (a decompression bomb that cost 3.6 GB and 31 s to extract): refused unread.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(19999, 19999))
    with pytest.raises(InputError, match="400 MP"):
        read_image(bomb)
    # 117 MP is under our limit but over Pillow's decompression-bomb warning (~89 MP): it still opens.
    big = tmp_path / "big.png"
    big.write_bytes(_png_header_only(11000, 10600))
    assert image_size(big) == (11000, 10600)
    assert expand_inputs([big]) == [MediaSource(big, "image")]


def test_read_image_12mp_jpeg() -> None:
    path = IMAGES / "identities" / "img49.jpg"  # 4352 x 2903
    image = read_image(path)
    _assert_bgr8(image)
    assert image.shape == (2903, 4352, 3)


# --- videos ------------------------------------------------------------------------------------

# name: (width, height, fps, frame count from the data README or None, duration, has audio)
SHARED_VIDEOS = {
    "identity_a": (480, 480, 30.0, 1008, 33.6, True),
    "identity_b": (512, 480, 30.0, 587, 19.6, True),
    "two_people_720p": (1280, 720, 29.97, None, 8.8, True),
    "stage_multi_lowlight": (640, 360, 29.97, None, 9.2, True),  # README's 10 s is the audio's length
    "street_crowd_1080p": (1920, 1080, 25.0, None, 4.2, True),
    "portrait_720x1280": (720, 1280, 30.0, None, 11.7, False),
    "occlusion_pen": (512, 512, 25.0, None, 7.3, True),
}


@pytest.mark.parametrize("name", sorted(SHARED_VIDEOS))
def test_probe_shared_video(name: str) -> None:
    width, height, fps, count, duration, has_audio = SHARED_VIDEOS[name]
    info = probe_video(VIDEOS / f"{name}.mp4")
    assert (info.width, info.height, info.rotation) == (width, height, 0)
    assert (info.coded_width, info.coded_height) == (width, height)
    assert info.fps == pytest.approx(fps, abs=0.01)
    assert info.duration == pytest.approx(duration, abs=0.1)
    assert info.frame_count_exact
    assert info.frame_count == (count if count is not None else round(info.duration * info.fps))
    assert info.has_audio == has_audio and info.codec == "h264"


def test_iter_frames_numbers_every_frame_like_a_plain_decode(identity_b_frames: list[tuple[int, float, str]]) -> None:
    frames = [(f.index, f.time, _digest(f.image)) for f in iter_frames(VIDEOS / "identity_b.mp4")]
    assert len(frames) == probe_video(VIDEOS / "identity_b.mp4").frame_count == 587
    assert frames == identity_b_frames


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        ({"every": 7}, lambda i, t: i % 7 == 0),
        ({"first_index": 301, "every": 5}, lambda i, t: i >= 301 and i % 5 == 0),
        ({"start": 10.0, "end": 12.5}, lambda i, t: 10.0 <= t < 12.5),
        ({"start": 4.0, "every": 4, "first_index": 200}, lambda i, t: t >= 4.0 and i >= 200 and i % 4 == 0),
        ({"end": 1.0}, lambda i, t: t < 1.0),
    ],
)
def test_iter_frames_selection_matches_the_full_decode(
    identity_b_frames: list[tuple[int, float, str]], options: dict, wanted
) -> None:
    got = [(f.index, f.time, _digest(f.image)) for f in iter_frames(VIDEOS / "identity_b.mp4", **options)]
    assert got == [frame for frame in identity_b_frames if wanted(frame[0], frame[1])]
    assert got


def test_start_at_a_frames_own_time_includes_it(identity_b_frames: list[tuple[int, float, str]]) -> None:
    index, time, digest = identity_b_frames[433]
    first = next(iter_frames(VIDEOS / "identity_b.mp4", start=time))
    assert (first.index, first.time, _digest(first.image)) == (index, time, digest)


def test_read_frame_at(identity_b_frames: list[tuple[int, float, str]]) -> None:
    for index in (0, 1, 299, 586):
        assert _digest(read_frame_at(VIDEOS / "identity_b.mp4", index)) == identity_b_frames[index][2]
    with pytest.raises(InputError) as error:
        read_frame_at(VIDEOS / "identity_b.mp4", 587)
    assert "587" in _one_line(error)


@pytest.mark.parametrize(("container_format", "suffix"), [("mpegts", ".ts"), ("matroska", ".mkv")])
def test_seeking_in_other_containers_keeps_frame_numbers(
    tmp_path: Path, identity_b_frames: list[tuple[int, float, str]], container_format: str, suffix: str
) -> None:
    # identity_b has a keyframe at frame 300 that decodes 2 frames before it is shown. MPEG-TS seeks
    # land on it even for frames 298-299, so the seek must be checked and retried further back.
    path = remux_video(VIDEOS / "identity_b.mp4", tmp_path / f"b{suffix}", container_format)
    assert _digest(read_frame_at(path, 299)) == identity_b_frames[299][2]
    got = [(f.index, f.time, _digest(f.image)) for f in iter_frames(path, start=9.9, end=10.1)]
    expected = [frame for frame in identity_b_frames if 9.9 <= frame[1] < 10.1]
    assert [(i, d) for i, _, d in got] == [(i, d) for i, _, d in expected]
    assert [t for _, t, _ in got] == pytest.approx([t for _, t, _ in expected], abs=0.001)  # ms clock in MKV


def test_frame_times_count_from_the_stream_start() -> None:
    # This clip's video starts 0.85 s into the container: frame 0 is still at time 0.
    info = probe_video(VIDEOS / "stage_multi_lowlight.mp4")
    assert info.start_time == pytest.approx(0.852, abs=0.001)
    times = [f.time for f in iter_frames(VIDEOS / "stage_multi_lowlight.mp4", end=0.2)]
    assert times[0] == 0.0 and len(times) == 6


def test_bad_selection_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        iter_frames(VIDEOS / "identity_b.mp4", every=0)
    with pytest.raises(ValueError):
        iter_frames(VIDEOS / "identity_b.mp4", start=5.0, end=5.0)


@pytest.mark.parametrize(("rotation", "hflip"), [(0, False), (90, False), (180, False), (270, False), (90, True)])
def test_rotated_video_is_decoded_upright(tmp_path: Path, rotation: int, hflip: bool) -> None:
    path = make_rotated_video(tmp_path, rotation, hflip=hflip)
    info = probe_video(path)
    upright_h, upright_w = rotated_video_reference(0).shape[:2]
    assert (info.width, info.height) == (upright_w, upright_h)
    turned = rotation in (90, 270)
    assert (info.coded_width, info.coded_height) == ((upright_h, upright_w) if turned else (upright_w, upright_h))
    if not hflip:
        assert info.rotation == rotation
    frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(30))
    for frame in frames[::7]:
        _assert_bgr8(frame.image)
        assert _mean_abs_diff(frame.image, rotated_video_reference(frame.index)) < 4
    if not hflip:  # OpenCV's own FFmpeg reader turns the frames too (it ignores mirroring)
        capture = cv2.VideoCapture(str(path))
        ok, image = capture.read()
        capture.release()
        assert ok and _mean_abs_diff(frames[0].image, image) < 0.5


# --- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reader", "phrase"),
    [
        ("missing", expand_inputs, "no such file or folder"),
        ("missing", probe_video, "no such file"),
        ("missing", read_image, "no such file"),
        ("empty_video", expand_inputs, "empty file"),
        ("empty_video", probe_video, "empty file"),
        ("text_as_video", expand_inputs, "is not a video or image file"),
        ("text_as_video", probe_video, "cannot be read as a video"),
        ("text_as_image", expand_inputs, "is not a video or image file"),
        ("text_as_image", read_image, "not a readable image"),
        ("truncated_video", probe_video, "cannot be read as a video"),
        ("audio_only", probe_video, "has no video stream (audio only?)"),
        ("no_frames_video", probe_video, "no decodable video frames"),
        ("corrupt_image", read_image, "not a readable image"),
    ],
)
def test_bad_input_gives_one_line_input_error(bad_inputs: dict[str, Path], name: str, reader, phrase: str) -> None:
    path = bad_inputs[name]
    with pytest.raises(InputError) as error:
        reader([path] if reader is expand_inputs else path)
    message = _one_line(error)
    assert phrase in message and path.name in message


@pytest.mark.parametrize(("name", "at_least"), [("truncated_faststart_video", 50), ("corrupt_video", 300)])
def test_damaged_video_yields_the_good_frames_then_raises(bad_inputs: dict[str, Path], name: str, at_least: int) -> None:
    path = bad_inputs[name]
    probe_video(path)  # the header is fine
    indices = []
    with pytest.raises(VideoDamagedError) as error:
        for frame in iter_frames(path):
            _assert_bgr8(frame.image)
            indices.append(frame.index)
    assert len(indices) >= at_least and indices == list(range(len(indices)))
    assert error.value.last_index == indices[-1]
    assert f"after frame {indices[-1]}" in _one_line(error)
    assert isinstance(error.value, InputError)


def test_frames_before_the_damage_match_the_intact_file(bad_inputs: dict[str, Path]) -> None:
    with pytest.raises(VideoDamagedError) as error:
        for frame in iter_frames(bad_inputs["truncated_faststart_video"], first_index=40, every=10):
            assert np.array_equal(frame.image, read_frame_at(VIDEOS / "two_people_720p.mp4", frame.index))
    assert error.value.last_index >= 50


def test_bad_inputs_of_the_helper_exist_as_described(bad_inputs: dict[str, Path]) -> None:
    assert not bad_inputs["missing"].exists()
    assert bad_inputs["empty_video"].stat().st_size == 0
    assert expand_inputs([bad_inputs["audio_only"]])[0].kind == "video"  # so probe_video explains it
    assert expand_inputs([bad_inputs["corrupt_image"]])[0].kind == "image"


# --- expanding inputs --------------------------------------------------------------------------


def _link(target: Path, link: Path) -> Path:
    os.symlink(target, link)
    return link


def test_expand_inputs_mixes_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "photos ünï"
    folder.mkdir()
    b = _link(IMAGES / "identities" / "img2.jpg", folder / "b.jpg")
    a = _link(IMAGES / "identities" / "img3.jpg", folder / "a.jpeg")
    clip = _link(VIDEOS / "occlusion_pen.mp4", folder / "c.mp4")
    webp = _link(IMAGES / "identities" / "img47.jpg", folder / "d.jpg")
    _link(IMAGES / "identities" / "img4.jpg", folder / ".hidden.jpg")
    (folder / "notes.csv").write_text("a,b\n")
    (folder / "sub").mkdir()
    _link(IMAGES / "identities" / "img5.jpg", folder / "sub" / "deeper.jpg")
    video = VIDEOS / "identity_b.mp4"

    sources = expand_inputs([video, folder, str(b), video])  # b and the second video are duplicates
    assert sources == [
        MediaSource(video, "video"),
        MediaSource(a, "image"),
        MediaSource(b, "image"),
        MediaSource(clip, "video"),
        MediaSource(webp, "image"),
    ]
    assert all(s.path.is_absolute() for s in sources)


def test_kind_comes_from_content_not_extension(tmp_path: Path) -> None:
    video_named_jpg = _link(VIDEOS / "identity_a.mp4", tmp_path / "clip.jpg")
    photo_named_mp4 = _link(IMAGES / "identities" / "img1.jpg", tmp_path / "photo.mp4")
    assert [s.kind for s in expand_inputs([video_named_jpg, photo_named_mp4])] == ["video", "image"]


def test_expand_inputs_refuses_empty_and_bad_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no media here")
    with pytest.raises(InputError) as error:
        expand_inputs([empty])
    assert "no images or videos" in _one_line(error)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mp4").write_text("not a video")
    with pytest.raises(InputError) as error:
        expand_inputs([bad])
    assert "x.mp4 is not a video or image file" in _one_line(error)


def test_suffix_sets_are_lowercase_with_dot() -> None:
    for suffix in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
        assert suffix.startswith(".") and suffix == suffix.lower()
    assert {".jpg", ".png", ".webp"} <= IMAGE_SUFFIXES and {".mp4", ".mov", ".mkv"} <= VIDEO_SUFFIXES
    assert not IMAGE_SUFFIXES & VIDEO_SUFFIXES


def test_file_sha256_streams_large_files() -> None:
    path = VIDEOS / "identity_a.mp4"
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InputError):
        file_sha256(path.with_name("nope.mp4"))
