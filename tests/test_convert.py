"""`facesmith convert` on real footage with a tiny model trained here.

The model is a tiny `lite` trained for a few iterations (seconds): its faces are blurry, but every
part of convert (alignments, identity check, batches, blending, writer, audio, provenance) runs on it.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

import facesmith
from facesmith.cli import main
from facesmith.errors import OutputError
from facesmith.face.align import invert_matrix, transform_points
from facesmith.faceset.reference import faceset_gate
from facesmith.faceset.store import AlignmentsStore
from facesmith.media.video import iter_frames, probe_video

from .media_variants import make_rotated_video

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "video"
TINY = {"enc": (8, 16, 32, 64), "latent": 32, "dec": (32, 16, 16, 8)}


def cut_clip(source: Path, target: Path, seconds: float, every: int = 1) -> Path:
    """The first `seconds` of `source`: video re-encoded near-losslessly (same timestamps), audio
    packets copied."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"preset": "ultrafast", "crf": "10"}
        vout.codec_context.time_base = vin.time_base
        audio = {s.index: dst.add_stream_from_template(s) for s in src.streams.audio}
        for packet in src.demux():
            if packet.dts is None or packet.pts is None:
                continue
            if packet.stream.type == "audio":
                if packet.pts * packet.time_base < seconds:
                    packet.stream = audio[packet.stream.index]
                    dst.mux(packet)
                continue
            if packet.pts * packet.time_base >= seconds + 1:  # (B-frames need later packets decoded)
                continue
            for frame in packet.decode():
                if frame.pts * frame.time_base < seconds:
                    frame.pict_type = av.video.frame.PictureType.NONE
                    dst.mux(vout.encode(frame))
        dst.mux(vout.encode())
    return target


@functools.cache
def trained() -> tuple[Path, Path, Path]:
    """(model, faceset A, faceset B): B holds every frame of identity_b, so convert finds its alignments."""
    if not VIDEOS.is_dir():
        pytest.fail(f"shared test videos not found at {VIDEOS}")
    root = Path(tempfile.mkdtemp(prefix="facesmith-convert-test-"))
    atexit.register(shutil.rmtree, root, True)
    facesmith.extract([VIDEOS / "identity_a.mp4"], root / "a", every=8)
    facesmith.extract([VIDEOS / "identity_b.mp4"], root / "b")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared machine's busy cores make 2 threads many times slower
    try:
        facesmith.train(root / "a", root / "b", root / "model", model="lite", model_options=TINY, batch_size=8,
                        lr=2e-3, warmup=5, iterations=20, save_every=20, preview_every=1000)
    finally:
        torch.set_num_threads(threads)
    return root / "model", root / "a", root / "b"


@pytest.fixture
def model() -> Path:
    return trained()[0]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main([*map(str, args), "--json", "--quiet"])
    out, err = capsys.readouterr()
    return code, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def packets(path: Path, kind: str) -> list[tuple[bytes, int | None]]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        return [(bytes(p), p.pts) for p in c.demux(stream) if p.size]


def face_regions(faceset: Path, source: Path) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """frame -> [(hull polygon in frame px, landmarks)] from the alignments extract saved."""
    from facesmith.media.inputs import file_sha256

    with AlignmentsStore.in_folder(faceset, create=False) as store:
        record = store.source(file_sha256(source))
        out = {}
        for fr in store.frames(record.id):
            out[fr.frame] = [(transform_points(np.asarray(m["mask"]), invert_matrix(np.asarray(m["matrix"]) / m["size"])),
                              np.asarray(m["landmarks"])) for _, _, m in fr.faces]
    return out


def test_video_keeps_timing_audio_and_background(model: Path, capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    source = VIDEOS / "identity_b.mp4"
    out = tmp_path / "swapped.mp4"
    code, summary, err = run_cli(capsys, "convert", source, "-m", model, "-o", out)
    assert code == 0, err
    # faces came from the stored alignments, were checked as the trained identity, and all swapped
    assert summary["alignments"] == [str(trained()[2])] and summary["identity_check"] == ["faceset files"]
    assert summary["direction"] == "b2a" and summary["frames"] == 587
    assert summary["faces_swapped"] >= 580 and summary["audio_packets_copied"] > 0
    a, b = probe_video(source), probe_video(out)
    assert b.frame_count == a.frame_count == 587 and b.frame_count_exact
    assert b.fps == pytest.approx(a.fps) and abs(b.duration - a.duration) <= 1 / a.fps
    assert (b.width, b.height, b.rotation) == (a.width, a.height, a.rotation)
    # every frame keeps its timestamp (variable frame rate would survive), audio is copied bit-exact
    assert sorted(p for _, p in packets(out, "video")) == sorted(p for _, p in packets(source, "video"))
    audio_in, audio_out = packets(source, "audio"), packets(out, "audio")
    assert len(audio_in) == len(audio_out) > 100 and audio_in == audio_out
    with av.open(str(out)) as c:  # tagged as synthetic (provenance)
        assert "facesmith" in " ".join(c.metadata.values())
    # outside the faces nothing changed but for the re-encode; inside, the face is new
    regions = face_regions(trained()[2], source)
    frames_in = {f.index: f.image for f in iter_frames(source) if f.index % 25 == 3}
    outside, inside = [], []
    for f in iter_frames(out):
        if f.index not in frames_in:
            continue
        before = frames_in[f.index]
        far = np.ones(before.shape[:2], np.uint8)
        core = np.zeros(before.shape[:2], np.uint8)
        for hull, _ in regions[f.index]:
            width = float(np.ptp(hull[:, 0]))
            grown = np.zeros_like(far)
            cv2.fillConvexPoly(grown, np.round(hull).astype(np.int32), 1)
            k = int(0.25 * width) * 2 + 1
            far &= 1 - cv2.dilate(grown, np.ones((k, k), np.uint8))
            core |= cv2.erode(grown, np.ones((k, k), np.uint8))
        assert far.mean() > 0.25 and core.sum() > 1000
        outside.append(psnr(before[far > 0], f.image[far > 0]))
        inside.append(float(np.abs(before[core > 0].astype(int) - f.image[core > 0]).mean()))
    assert len(outside) == len(frames_in) >= 20
    assert min(outside) > 40, outside
    assert min(inside) > 8, inside
    # nothing else was left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped.mp4"]


def test_start_and_end_convert_a_window_with_its_audio(model: Path, capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    """--start / --end, as extract has them: only that part is converted and written, its clock
    starting at the window's first frame, with the audio of the window moved by as much."""
    source, out = VIDEOS / "identity_b.mp4", tmp_path / "window.mp4"
    code, summary, err = run_cli(capsys, "convert", source, "-m", model, "-o", out, "--start", "2", "--end", "0:03.5")
    assert code == 0, err
    kept = [f for f in iter_frames(source) if 2 <= f.time < 3.5]
    assert summary["frames"] == len(kept) == 45 and summary["faces_swapped"] >= 44
    info = probe_video(out)
    assert info.frame_count == 45 and info.duration == pytest.approx(1.5, abs=0.05)
    video_in = sorted(p for _, p in packets(source, "video"))
    first = video_in[kept[0].index]
    assert sorted(p for _, p in packets(out, "video")) == [p - first for p in video_in[kept[0].index:kept[-1].index + 1]]
    audio_out = packets(out, "audio")
    with av.open(str(source)) as c:
        tb = float(c.streams.audio[0].time_base)
    window = [(data, pts) for data, pts in packets(source, "audio") if 2 <= pts * tb < 3.5]
    assert len(audio_out) == len(window) > 20 and [d for d, _ in audio_out] == [d for d, _ in window]
    assert audio_out[0][1] * tb == pytest.approx(window[0][1] * tb - 2, abs=0.03)
    code, _, err = run_cli(capsys, "convert", source, "-m", model, "-o", tmp_path / "bad.mp4", "--start", "3", "--end", "2")
    assert code == 2 and "--end must be after --start" in err


def test_rotation_kept_and_faces_detected_on_the_fly(model: Path, tmp_path: Path) -> None:
    rotated = make_rotated_video(tmp_path / "in", 90)
    out = tmp_path / "out.mp4"
    summary = facesmith.convert(rotated, model, out, all_faces=True, crf=12)
    assert summary["alignments"] == ["detected"] and summary["faces_swapped"] >= 25
    a, b = probe_video(rotated), probe_video(out)
    assert (b.rotation, b.width, b.height, b.frame_count) == (a.rotation, a.width, a.height, a.frame_count) == (
        90, 352, 448, 30)
    # upright frames match outside the face (a writer that forgot to turn them back would not)
    first_in = next(iter_frames(rotated)).image
    first_out = next(iter_frames(out)).image
    assert psnr(first_in[:40], first_out[:40]) > 38 and psnr(first_in[:, -30:], first_out[:, -30:]) > 38


def test_odd_size_and_variable_frame_rate(model: Path, tmp_path: Path) -> None:
    """An odd-sized clip with irregular frame times: the output is padded to even, keeps each time."""
    clip = tmp_path / "odd_vfr.mkv"
    stamps = []
    with av.open(str(VIDEOS / "identity_b.mp4")) as src, av.open(str(clip), "w") as dst:
        out = dst.add_stream("ffv1", rate=30)
        out.width, out.height, out.pix_fmt = 301, 241, "yuv444p"
        out.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i, frame in enumerate(src.decode(video=0)):
            if i == 24:
                break
            image = cv2.resize(frame.to_ndarray(format="bgr24"), (301, 241), interpolation=cv2.INTER_AREA)
            new = av.VideoFrame.from_ndarray(image, format="bgr24")
            new.pts, new.time_base = t, Fraction(1, 1000)
            stamps.append(t)
            t += 33 if i % 3 else 70  # a variable frame rate
            dst.mux(out.encode(new))
        dst.mux(out.encode())
    result = tmp_path / "out.mp4"
    summary = facesmith.convert(clip, model, result, all_faces=True, allow_empty=True)
    assert summary["padded_to_even_size"] and summary["frames_written"] == 24
    info = probe_video(result)
    assert (info.width, info.height, info.frame_count) == (302, 242, 24)
    times = [round(f.time * 1000) for f in iter_frames(result)]
    assert times == stamps


def test_image_folder_and_single_image(model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    frames = [f.image for f in iter_frames(VIDEOS / "identity_b.mp4", every=200)]
    for i, image in enumerate(frames):
        cv2.imwrite(str(photos / f"shot{i}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 98])
    out = tmp_path / "swapped"
    summary = facesmith.convert(photos, model, out)
    assert summary["kind"] == "frames" and summary["faces_swapped"] == len(frames) == 3
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["shot0.jpg", "shot1.jpg", "shot2.jpg"]
    before, after = cv2.imread(str(photos / "shot1.jpg")), cv2.imread(str(out / "shot1.jpg"))
    assert before.shape == after.shape and np.abs(before.astype(int) - after).mean() > 1
    # a second run refuses to replace it unless asked, then replaces its own folder
    with pytest.raises(OutputError, match="--overwrite"):
        facesmith.convert(photos, model, out)
    facesmith.convert(photos, model, out, overwrite=True, color="histogram")
    single = tmp_path / "one.png"
    summary = facesmith.convert(photos / "shot0.jpg", model, single, color="seamless", sharpen=1.0)
    assert summary["kind"] == "image" and cv2.imread(str(single)).shape == frames[0].shape


def test_preview_sheet(model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    code, summary, err = run_cli(capsys, "convert", VIDEOS / "identity_b.mp4", "-m", model, "-o", sheet,
                                 "--preview", "4", "--color", "histogram", "--feather", "20")
    assert code == 0, err
    assert summary["preview_frames"] == 4 and summary["faces_swapped"] == 4
    image = cv2.imread(str(sheet))
    assert image.shape[1] == 1600 and image.shape[0] == summary["sheet_size"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]


def test_faces_deleted_from_the_faceset_are_not_swapped(model: Path, tmp_path: Path) -> None:
    curated = tmp_path / "curated"
    shutil.copytree(trained()[2], curated)
    removed = [p for p in curated.glob("*.jpg") if 100 <= int(p.stem.split("_")[-2]) < 250]
    assert len(removed) == 150
    for p in removed:
        p.unlink()
    summary = facesmith.convert(VIDEOS / "identity_b.mp4", model, tmp_path / "sheet.png", preview=4,
                                alignments=str(curated))
    # sampled frames 117, 234, 352, 469: the first two lost their face files
    assert summary["faces_found"] == 4 and summary["faces_swapped"] == 2
    assert summary["identity_check"] == ["faceset files"]


def test_identity_gate_tells_the_trained_person_from_others(tmp_path: Path) -> None:
    from facesmith.convert.faces import DetectedFaces

    _, _, faces_b = trained()
    gate = faceset_gate(faces_b, threshold=0.6)
    detect = DetectedFaces(video=False)
    same = next(iter_frames(VIDEOS / "identity_b.mp4", first_index=300)).image
    others = next(iter_frames(VIDEOS / "two_people_720p.mp4", first_index=30)).image
    found_same, found_others = detect(0, same, 0.0), detect(0, others, 0.0)
    assert len(found_same) == 1 and len(found_others) == 2
    assert len(gate.keep_tracked(same, found_same)) == 1
    gate.reset()
    assert gate.keep_tracked(others, found_others) == []
