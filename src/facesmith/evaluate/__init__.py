"""The evaluate stage: measure a swapped video against its target and the source faceset's identity.

    summary = facesmith.evaluate(target, swapped, source, **options)  # -> EvaluateSummary, with per-frame rows

Writes an HTML report; options are the fields of `EvaluateOptions` (options.py), those of
`facesmith evaluate`.
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.evaluate.command:evaluate")
