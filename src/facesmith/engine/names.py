"""Option values shared by the CLI and the implementation (kept free of heavy imports, so that
`facesmith --help` does not load OpenCV or FFmpeg)."""

MASKS = ("auto", "hull", "learned", "both")
COLORS = ("reinhard", "histogram", "seamless", "none")  # the registry in blend.py holds exactly these
MOUTHS = ("swap", "keep")  # keep: the target's own mouth interior shows where its lips are open
# at a head pose the model never saw the source at: swap anyway, fade back to the target's own face, or keep it
UNSEEN_POSES = ("swap", "fade", "keep")
# the swap shows fully up to FAMILIAR_POSE degrees from the drawn identity's trained poses (yaw and pitch,
# face/pose.py PoseRange) and, faded, not at all from UNSEEN_POSE on; `keep` cuts halfway
FAMILIAR_POSE = 15.0
UNSEEN_POSE = 25.0
KEEP_POSE = (FAMILIAR_POSE + UNSEEN_POSE) / 2
