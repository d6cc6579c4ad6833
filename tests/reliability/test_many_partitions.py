"""Many partitions: start-up stays fast and memory small (CI runs 1,000; the 10,000-partition
figures in docs/reliability.md come from `python -m katka.reliability.partitions`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.reliability.partitions import measure


@pytest.mark.slow
def test_a_thousand_partitions_start_fast_and_small_after_clean_and_unclean_stops(
    tmp_path: Path,
) -> None:
    figures = measure(1000, tmp_path / "data")
    assert figures.clean_start_seconds < 10, figures.line()
    assert figures.unclean_start_seconds < 20, figures.line()
    assert figures.rss_after_clean_start < 300 * 2**20, figures.line()
    assert figures.rss_after_unclean_start < 300 * 2**20, figures.line()
    assert figures.metadata_seconds < 10, figures.line()
