"""The extract stage: videos, images and folders in; a faceset folder of aligned faces out.

    summary = facesmith.extract(inputs, output_dir, **options)  # -> extract.pipeline.ExtractSummary

Options are the fields of `extract.options.ExtractOptions` (size=256, every=1, detector="blazeface",
...), the same as `facesmith extract`'s. The face-vision library it uses is `facesmith.face`.
"""

from .._stage import make_callable

make_callable(__name__, "facesmith.extract.pipeline:extract")
