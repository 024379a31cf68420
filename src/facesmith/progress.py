"""Progress bars on stderr (stdout is kept for `--json` summaries)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

# Set by the CLI's --quiet; library callers may set it too.
QUIET = False


def bar(total: int | float | None = None, desc: str = "", unit: str = "it", **kw: Any) -> tqdm:
    """A tqdm bar with rate and ETA on stderr; disabled under --quiet."""
    return tqdm(
        total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, smoothing=0.1,
        disable=QUIET or None, mininterval=0.5, **kw,
    )


def log(msg: str) -> None:
    if not QUIET:
        tqdm.write(msg, file=sys.stderr)


def warn(msg: str) -> None:
    tqdm.write(f"facesmith: warning: {msg}", file=sys.stderr)
