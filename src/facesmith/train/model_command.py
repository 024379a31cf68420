"""`facesmith model info MODEL_DIR`: describe a trained model's latest checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("model", help="inspect trained models",
                              description="Inspect a trained model folder.")
    p.add_argument("action", choices=["info"], help="info: describe the latest checkpoint")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ..models.checkpoint import describe

    return describe(Path(args.model_dir))
