"""A faceset as the identity to keep: convert and live swap only the faces that look like it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..face.identity_gate import Embed, IdentityGate
from ..spacing import evenly_spaced
from . import face_landmarks, list_faces, read_face

# convert's and live's tracks are embedded on these frames (sparser than extract --ref's: a swap
# checks a person already chosen, extract decides who goes into a faceset)
SWAP_SAMPLE_AGES = (1, 10, 40, 120)


def spread_faces(folder: Path, count: int) -> list[Path]:
    """Up to `count` evenly spaced face files of the faceset in `folder`, first and last included."""
    files = list_faces(folder)
    if not files:
        return []
    return [files[i] for i in evenly_spaced(len(files), count)]


def faceset_gate(folder: Path, threshold: float, samples: int = 5) -> IdentityGate:
    """A gate for the person of this faceset (`samples` of its faces, embedded on first use);
    ValueError when the folder holds no faces."""
    files = spread_faces(folder, samples)
    if not files:
        raise ValueError(f"no faces in {folder}")

    def references(embed: Embed) -> list[np.ndarray]:
        refs = []
        for path in files:
            image, meta = read_face(path)
            refs.append(embed(image, face_landmarks(meta, image.shape[0])))
        return refs

    return IdentityGate(references, threshold, sample_ages=SWAP_SAMPLE_AGES)
