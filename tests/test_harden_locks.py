"""Issue 14, class 3: one facesmith process per model folder, faceset and swap work folder; a lock left
by a killed process never blocks; temporary names are per process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from facesmith.locking import LOCK_NAME
from facesmith.models import checkpoint as ckpt_io

from .harden_helpers import ENV, VIDEOS, copy_faceset, one_line_error, run_cli
from .test_train import TINY, extracted_facesets

TINY_TRAIN = ("import sys\nfrom facesmith.models.lite import Lite\n"
              f"Lite.DEFAULTS.update({TINY!r}, batch_size=4)\n"
              "from facesmith.cli import main\nsys.exit(main(sys.argv[1:]))\n")
HOLD = ("import sys, time\nfrom facesmith.locking import folder_lock\n"
        "with folder_lock(sys.argv[1], 'folder'):\n    print('held', flush=True)\n    time.sleep(600)\n")


def start_holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_two_trainings_of_one_model_folder(tmp_path: Path) -> None:
    a, b = extracted_facesets()
    model = tmp_path / "m"
    first = subprocess.Popen([sys.executable, "-c", TINY_TRAIN, "train", str(a), str(b), "-o", str(model),
                              "--iterations", "100000", "--save-every", "5", "-q"],
                             stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 180
        while not (model / "checkpoints").is_dir():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.stderr else ""
            time.sleep(0.2)
        second = run_cli("train", a, b, "-o", model, "--iterations", "10")
        one_line_error(second, code=2, match=f"is in use by another facesmith process (pid {first.pid})")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed run's lock is gone with it: the next run resumes at once
    name = ckpt_io.latest_name(model)
    assert name is not None and (model / LOCK_NAME).is_file()
    third = subprocess.run([sys.executable, "-c", TINY_TRAIN, "train", str(a), str(b), "-o", str(model),
                            "--iterations", str(int(name) + 2), "-q"], capture_output=True, text=True, env=ENV,
                           timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    assert ckpt_io.latest_name(model) == f"{int(name) + 2:08d}"


def test_faceset_and_swap_folder_are_held_by_one_process(tmp_path: Path) -> None:
    faceset = copy_faceset(extracted_facesets()[0], tmp_path / "faces")
    holder = start_holder(faceset)
    try:
        for args in (("extract", VIDEOS / "identity_a.mp4", "-o", faceset, "--every", "50"),
                     ("faces", "sort", faceset, "--by", "blur"), ("faces", "dedupe", faceset)):
            one_line_error(run_cli(*args), code=2, match=f"in use by another facesmith process (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("faces", "sort", faceset, "--by", "blur").returncode == 0  # a dead holder blocks nothing
    work = tmp_path / "out.swap-work"
    work.mkdir()
    holder = start_holder(work)
    try:
        one_line_error(run_cli("swap", VIDEOS / "identity_a.mp4", VIDEOS / "identity_b.mp4", "-o", tmp_path / "out.mp4",
                               "--iterations", "1"), code=2, match=f"(pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()


def test_checkpoint_temp_folders_are_per_process(tmp_path: Path) -> None:
    import facesmith

    a, b = extracted_facesets()
    model = tmp_path / "m"
    root = model / "checkpoints"
    root.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        live, dead = root / f".tmp-{sleeper.pid}-00000002", root / ".tmp-999999999-00000002"
        live.mkdir()
        dead.mkdir()
        facesmith.train(a, b, model, model="lite", model_options=TINY, batch_size=4, iterations=2, save_every=2,
                        preview_every=100)
        assert live.is_dir() and not dead.exists()  # another live writer's folder is left alone
        assert ckpt_io.latest_name(model) == "00000002"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not [p for p in root.iterdir() if p.name.startswith(f".tmp-{os.getpid()}-")]
