"""The evaluate stage: measure a swapped video against its target and the source faceset's identity.

    summary = facesmith.evaluate(target, swapped, source, **options)  # -> dict with per-frame rows

Writes an HTML report; options are those of `facesmith evaluate` (frames=30, every=1, report=None,
write_report=True).
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.evaluate.command:evaluate")
