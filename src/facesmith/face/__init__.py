"""The face-vision library: detectors, 68-point landmarkers, alignment, tracking, identity, pose.

It sits on the ground floor beside `media`: the stages (extract, convert, train, evaluate,
provenance, faceset tools) use it, and it imports none of them. Detectors and landmarkers are
registries (`detect.py`, `landmarks.py`): a new backend is one module plus one registration line.
"""
