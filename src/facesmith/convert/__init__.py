"""The convert stage: swap the faces of a video, photo or folder of photos with a trained model.

    summary = facesmith.convert(target, model_dir, output, **options)  # -> convert.options.ConvertSummary

Options are the fields of `convert.options.ConvertOptions` (direction="auto", color="reinhard",
crf=18, ...), the same as `facesmith convert`'s.
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.convert.pipeline:convert")
