"""The face library's command-line options: keeping one person by reference photos, which extract's
`--ref` and `faces filter` share (kept light: no numpy, no models)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option
from . import SAME_PERSON_THRESHOLD


@dataclass(frozen=True)
class ReferenceOptions:
    ref: tuple[str, ...] = option((), "keep only the person in these photos", metavar="IMAGE", nargs="+")
    threshold: float = option(SAME_PERSON_THRESHOLD,
                              "identity distance under which a face matches --ref (default %(default)s)")
