"""x264 settings shared by the CLI and the video writer (kept free of heavy imports, so that
`facesmith --help` does not load FFmpeg)."""

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
