"""Option values shared by the CLI and the implementation (kept free of heavy imports, so that
`facesmith --help` does not load OpenCV or FFmpeg)."""

MASKS = ("auto", "hull", "learned", "both")
COLORS = ("reinhard", "histogram", "seamless", "none")  # the registry in blend.py holds exactly these
MOUTHS = ("swap", "keep")  # keep: the target's own mouth interior shows where its lips are open
