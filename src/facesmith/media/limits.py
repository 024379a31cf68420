"""How big one picture (a photo or a video frame) may be, checked from its header before decoding.

120 MP is ~360 MB as BGR (about 1 GB at a decoder's peak) and covers 100 MP medium-format cameras;
past that a picture is almost certainly a scan, a panorama or a decompression bomb (a 48 KB PNG can
claim 400 MP, which cost 3.6 GB and 31 s in extract) and should be downscaled before it reaches a
face detector.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

MAX_PIXELS = 120_000_000


def check_pixels(size: tuple[int, int], path: Path) -> None:
    """InputError when a picture of `size` (width, height from a header) is over MAX_PIXELS."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{path} is {width}x{height} ({width * height / 1e6:.0f} MP), over the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit; downscale it first"
        )
