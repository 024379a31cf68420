"""The swap front end: extract, train and convert in one resumable job.

    summary = facesmith.swap(source, target, output, **options)  # -> dict

Puts the face of `source` (video or photos) onto the person in `target`, resuming from `workdir`
when it holds earlier progress. Options are those of `facesmith swap`.
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.swap.runner:swap")
