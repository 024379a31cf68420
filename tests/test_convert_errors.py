"""Bad input to `facesmith convert`: one clear line, a non-zero exit, and nothing (half-)written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from facesmith.media import writer as writer_module
from facesmith.media.video import probe_video

from .test_convert import VIDEOS, cut_clip, run_cli, trained


@pytest.fixture
def model() -> Path:
    return trained()[0]


def no_face_video(path: Path, frames: int = 20) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.codec_context.time_base = Fraction(1, 25)
        for i in range(frames):
            image = np.zeros((240, 320, 3), np.uint8)
            image[:, :, 1] = np.linspace(0, 255, 320, dtype=np.uint8)[None]
            image[:, :, 2] = (i * 9) % 255
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(VIDEOS / "identity_b.mp4")) as src, av.open(str(path), "w") as dst:
        out = dst.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    return path


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    assert lines[-1].startswith("facesmith: error: "), err
    return lines[-1]


def test_bad_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target, out = VIDEOS / "identity_b.mp4", tmp_path / "out.mp4"
    code, summary, err = run_cli(capsys, "convert", target, "-m", tmp_path / "nope", "-o", out)
    assert code == 2 and summary["ok"] is False and "model folder not found" in one_error_line(err)
    empty = tmp_path / "empty_model"
    empty.mkdir()
    code, _, err = run_cli(capsys, "convert", target, "-m", empty, "-o", out)
    assert code == 2 and "no checkpoint" in one_error_line(err)
    broken = tmp_path / "broken_model"
    (broken / "checkpoints" / "00000010").mkdir(parents=True)
    (broken / "checkpoints" / "00000010" / "state.json").write_text('{"format": "something else"}')
    code, _, err = run_cli(capsys, "convert", target, "-m", broken, "-o", out)
    assert code == 2 and "not a facesmith checkpoint" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken_model", "empty_model"]


def test_bad_target_and_output(model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = VIDEOS / "identity_b.mp4"
    code, _, err = run_cli(capsys, "convert", audio_only(tmp_path / "sound.m4a"), "-m", model, "-o", tmp_path / "o.mp4")
    assert code == 2 and "no video stream" in one_error_line(err)
    code, _, err = run_cli(capsys, "convert", target, "-m", model, "-o", tmp_path / "missing" / "o.mp4")
    assert code == 3 and "does not exist" in one_error_line(err)
    code, _, err = run_cli(capsys, "convert", target, "-m", model, "-o", tmp_path / "o.txt")
    assert code == 3 and ".mp4" in one_error_line(err)
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    code, _, err = run_cli(capsys, "convert", target, "-m", model, "-o", existing)
    assert code == 3 and "--overwrite" in one_error_line(err)
    assert existing.read_bytes() == b"keep me"
    code, _, err = run_cli(capsys, "convert", target, "-m", model, "-o", tmp_path / "o.mp4", "--alignments",
                           trained()[1])  # faceset A does not hold identity_b
    assert code == 2 and "no complete alignments" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.mp4", "sound.m4a"]


def test_no_face_found(model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blank = no_face_video(tmp_path / "blank.mp4")
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "convert", blank, "-m", model, "-o", out)
    assert code == 2 and "no face was found" in one_error_line(err) and "--allow-empty" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["blank.mp4"]
    code, summary, err = run_cli(capsys, "convert", blank, "-m", model, "-o", out, "--allow-empty")
    assert code == 0, err
    assert summary["faces_swapped"] == 0 and probe_video(out).frame_count == 20


def test_other_people_are_left_alone(model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clip = cut_clip(VIDEOS / "two_people_720p.mp4", tmp_path / "two.mp4", 0.5)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "convert", clip, "-m", model, "-o", out)
    assert code == 2 and "none is the trained identity" in one_error_line(err) and "--all-faces" in err
    assert not out.exists()
    code, summary, err = run_cli(capsys, "convert", clip, "-m", model, "-o", out, "--all-faces")
    assert code == 0, err
    frames = probe_video(clip).frame_count
    assert summary["frames"] == frames and summary["faces_swapped"] >= 2 * frames - 2


def test_interrupted_convert_leaves_nothing(model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import facesmith

    real_write = writer_module.VideoWriter.write
    calls = []

    def write(self: writer_module.VideoWriter, image: np.ndarray, time: float, hook: Any = None) -> None:
        calls.append(time)
        if len(calls) == 40:
            raise KeyboardInterrupt
        real_write(self, image, time, hook)

    monkeypatch.setattr(writer_module.VideoWriter, "write", write)
    with pytest.raises(KeyboardInterrupt):
        facesmith.convert(VIDEOS / "identity_b.mp4", model, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []
