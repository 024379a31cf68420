"""Provenance: every output facesmith makes is marked as synthetic, and `facesmith verify` reads the marks.

Three independent marks, so that removing one leaves the others:

- a faint watermark in the pixels of each swapped face (`Marker`), embedded in the aligned face
  space so it survives scaling, cropping and re-encoding (`watermark`);
- container metadata: MP4 tags (`container_metadata`, `container_options`) and PNG/JPEG tags;
- a signed C2PA manifest asserting AI-generated content (`finalize_file`).

`verify` reports, per file, which of them it found.
"""

from __future__ import annotations

from .finalize import finalize_file, output_record
from .fingerprint import fingerprint_of, model_fingerprint
from .marker import Marker
from .metadata import container_metadata, container_options
from .verify import verify

__all__ = ["Marker", "container_metadata", "container_options", "finalize_file", "fingerprint_of", "model_fingerprint",
           "output_record", "verify"]
