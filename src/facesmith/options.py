"""Command-line argument types shared by the subcommands (kept free of heavy imports)."""

from __future__ import annotations

import argparse


def parse_time(value: str) -> float:
    """Seconds, or [[H:]M:]S like 1:05.5 (the --start / --end of extract and convert)."""
    try:
        seconds = 0.0
        for part in value.split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {value!r} (use seconds or M:S)") from None
    return seconds
