"""The training-data record a model carries into every output's C2PA manifest: which facesets
trained it, the SHA-256 of the media each was extracted from, and the consent statement given at
`facesmith train --consent "..."` (None when none was given: the manifest then says so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError

MAX_CONSENT = 4000  # characters: a statement, not a document


def training_record(faceset_a: str | Path, faceset_b: str | Path, consent: str | None) -> dict[str, Any]:
    from ..faceset.store import AlignmentsStore

    if consent is not None and (not consent.strip() or len(consent) > MAX_CONSENT):
        raise InputError(f"--consent must be a statement of 1 to {MAX_CONSENT} characters")
    facesets = []
    for side, folder in (("a", Path(faceset_a)), ("b", Path(faceset_b))):
        try:
            with AlignmentsStore.in_folder(folder, create=False, readonly=True) as store:
                # file names only: a manifest travels with the output, the user's folders need not
                sources = [{"name": Path(s.path).name, "sha256": s.sha256} for s in store.sources()]
        except InputError:  # faces without their store (copied by hand), or no faceset: load_data says so
            sources = []
        facesets.append({"side": side, "name": folder.name, "sources": sources})
    return {"facesets": facesets, "consent": consent.strip() if consent else None}
