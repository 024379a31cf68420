"""The train stage: two facesets in, a face-swap model folder out (resumes when it holds a checkpoint).

    summary = facesmith.train(faceset_a, faceset_b, model_dir, **options)  # -> dict

Options are those of `facesmith train` (model="lite", iterations=None, minutes=None, seed=0, ...).
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.train.loop:train")
