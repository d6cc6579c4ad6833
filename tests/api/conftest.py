from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.harness import ApiHarness


@pytest.fixture
def api() -> Iterator[ApiHarness]:
    harness = ApiHarness()
    yield harness
    harness.close()
