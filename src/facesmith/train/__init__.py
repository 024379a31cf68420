"""The train stage: two facesets in, a face-swap model folder out (resumes when it holds a checkpoint).

    summary = facesmith.train(faceset_a, faceset_b, model_dir, **options)  # -> train.options.TrainSummary

Options are the fields of `train.options.TrainOptions` (model="lite", iterations=None, minutes=None,
seed=None, ...), the same as `facesmith train`'s.
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.train.loop:train")
