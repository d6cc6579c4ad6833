"""Fixtures for the storage tests: `harness` runs a test once per engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.storage_helpers import EngineHarness


@pytest.fixture(params=["memory", "disk"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineHarness]:
    harness = EngineHarness(request.param, tmp_path)
    yield harness
    harness.engine.close()
