"""Settings that change while live runs: swap on/off, mask and colour mode, erode/feather, which face.

One `Controls` object is shared by the terminal keys, the preview server's `/control` endpoint and the
frame loop, which takes a `snapshot()` before each frame (a change lands on the next frame; nothing
restarts). `update(**changes)` validates everything before changing anything.

Keys on a terminal (stdin a TTY): `s` swap on/off, `m` next mask, `c` next colour, `e`/`E` erode
-1/+1 px, `f`/`F` feather -1/+1 px, `o` the target's own open mouth kept or
not, `x` what covers the face kept in front or not, `p` at poses the model never saw (swap, fade,
keep), `w` which face (largest, all, identity), `q` quit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from ..convert.options import ConvertOptions
from ..engine.names import COLORS, MASKS, MOUTHS, UNSEEN_POSES
from ..errors import InputError
from ..options import option, same_as

FACE_CHOICES = ("largest", "all", "identity")
NO_OCCLUSION = "occlusion needs the model's occlusion network and this model has none (add it: train --occlusion)"
KEYS_HELP = ("keys: s swap on/off, m mask, c colour, e/E erode -/+, f/F feather -/+, o mouth, x occlusion, "
             "p unseen pose, w which face, q quit")


@dataclass(frozen=True)
class Settings:
    """The swap settings (and their command-line options: convert's blend options, `same_as`)."""

    faces: str = option("largest", "which faces to swap: the largest (default), all, or those of the trained "
                                   "identity", choices=FACE_CHOICES)
    mask: str = same_as(ConvertOptions, "mask")
    color: str = same_as(ConvertOptions, "color")
    erode: float | None = same_as(ConvertOptions, "erode")  # px; None: 3% of the face
    feather: float | None = same_as(ConvertOptions, "feather")  # px; None: 8% of the face
    mouth: str = same_as(ConvertOptions, "mouth")
    occlusion: bool = same_as(ConvertOptions, "occlusion")
    unseen_pose: str = same_as(ConvertOptions, "unseen_pose")
    swap: bool = option(True, "start with the swap turned off", flag="--swap-off")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(settings: Settings, masks: tuple[str, ...]) -> Settings:
    if settings.mask not in masks:
        raise InputError(f"mask must be one of {', '.join(masks)}, not {settings.mask!r}")
    if settings.color not in COLORS:
        raise InputError(f"color must be one of {', '.join(COLORS)}, not {settings.color!r}")
    if settings.mouth not in MOUTHS:
        raise InputError(f"mouth must be one of {', '.join(MOUTHS)}, not {settings.mouth!r}")
    if settings.unseen_pose not in UNSEEN_POSES:
        raise InputError(f"unseen_pose must be one of {', '.join(UNSEEN_POSES)}, not {settings.unseen_pose!r}")
    if settings.faces not in FACE_CHOICES:
        raise InputError(f"faces must be one of {', '.join(FACE_CHOICES)}, not {settings.faces!r}")
    if settings.feather is not None and settings.feather < 0:
        raise InputError("feather must be 0 or more pixels")
    for name in ("erode", "feather"):
        value = getattr(settings, name)
        if value is not None and not -200 <= value <= 200:
            raise InputError(f"{name} must be between -200 and 200 pixels")
    return settings


class Controls:
    def __init__(self, initial: Settings, masks: tuple[str, ...] = MASKS, identity: bool = True,
                 occlusion: bool = True):
        """`masks`: the masks this model can use; `identity`: whether 'identity' is possible (a faceset
        to compare with is there); `occlusion`: whether the model has an occlusion network."""
        self.masks = masks
        self.face_choices = FACE_CHOICES if identity else FACE_CHOICES[:2]
        self.can_occlude = occlusion
        self._lock = threading.Lock()
        self._settings = self._possible(_check(initial, masks))
        self.quit = threading.Event()
        self.changes = 0

    def _possible(self, settings: Settings) -> Settings:
        if settings.faces not in self.face_choices:
            raise InputError("faces=identity needs the faceset the model was trained on; it is not available")
        if settings.occlusion and not self.can_occlude:
            raise InputError(NO_OCCLUSION)
        return settings

    def snapshot(self) -> Settings:
        with self._lock:
            return self._settings

    def update(self, **changes: Any) -> Settings:
        """Apply `changes` (field=value; strings are accepted for every field, as from a query string)."""
        fields = {f.name for f in dataclasses.fields(Settings)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise InputError(f"unknown setting {unknown[0]!r} (settings: {', '.join(sorted(fields))})")
        parsed = {name: _parse(name, value) for name, value in changes.items()}
        with self._lock:
            new = self._possible(_check(dataclasses.replace(self._settings, **parsed), self.masks))
            self._settings = new
            self.changes += 1
            return new

    def key(self, key: str) -> str | None:
        """Apply one terminal key; returns a line saying what changed (None: not a key)."""
        s = self.snapshot()
        step = {"e": ("erode", -1), "E": ("erode", 1), "f": ("feather", -1), "F": ("feather", 1)}
        if key == "q":
            self.quit.set()
            return "quitting"
        if key == "s":
            new = self.update(swap=not s.swap)
        elif key == "m":
            new = self.update(mask=_next(self.masks, s.mask))
        elif key == "c":
            new = self.update(color=_next(COLORS, s.color))
        elif key == "o":
            new = self.update(mouth=_next(MOUTHS, s.mouth))
        elif key == "x":
            if not self.can_occlude:
                return NO_OCCLUSION
            new = self.update(occlusion=not s.occlusion)
        elif key == "p":
            new = self.update(unseen_pose=_next(UNSEEN_POSES, s.unseen_pose))
        elif key == "w":
            new = self.update(faces=_next(self.face_choices, s.faces))
        elif key in step:
            name, delta = step[key]
            current = getattr(s, name)
            base = round(current) if current is not None else (4 if name == "erode" else 10)
            new = self.update(**{name: max(0, base + delta) if name == "feather" else base + delta})
        else:
            return None
        return ", ".join(f"{k}={v}" for k, v in new.as_dict().items())


def _next(choices: tuple[str, ...], current: str) -> str:
    return choices[(choices.index(current) + 1) % len(choices)] if current in choices else choices[0]


def _parse(name: str, value: Any) -> Any:
    if name in ("swap", "occlusion"):
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
            raise InputError(f"{name} must be on or off, not {value!r}")
        return text in ("1", "true", "on", "yes")
    if name in ("erode", "feather"):
        if value is None or str(value).lower() in ("", "auto", "none"):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number of pixels or auto, not {value!r}") from None
    return str(value)


class TerminalKeys:
    """Reads single keys from a terminal on a thread (cbreak mode, restored on `close`). Does nothing
    when stdin is not a terminal (or on Windows)."""

    def __init__(self, controls: Controls, say: Any):
        self.controls, self.say = controls, say
        self._saved: Any = None
        self._stop = threading.Event()
        self.active = False
        if not sys.stdin.isatty() or os.name != "posix":
            return
        import termios
        import tty

        fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.active = True
        threading.Thread(target=self._loop, daemon=True, name="facesmith-keys").start()

    def _loop(self) -> None:
        import select

        fd = sys.stdin.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            key = os.read(fd, 1).decode(errors="replace")
            try:
                line = self.controls.key(key)
            except InputError as e:
                line = str(e)
            if line:
                self.say(line)

    def close(self) -> None:
        self._stop.set()
        if self._saved is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
