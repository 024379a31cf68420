"""Shared test fixtures. Real data lives in ../shared/data beside the repository (CI has it there too)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
VIDEOS = SHARED_DATA / "video"
IMAGES = SHARED_DATA / "images"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA
