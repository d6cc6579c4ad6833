"""A bounded run of the protocol fuzzer against a real `katka serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.reliability import fuzz


@pytest.mark.slow
def test_a_minute_of_mutated_requests_neither_crashes_nor_hangs_the_broker(
    tmp_path: Path,
) -> None:
    summary = fuzz.run(45, seed=20240601, data_dir=tmp_path / "data", save_dir=tmp_path / "saved")
    assert summary.crashes == 0, summary.problems
    assert summary.hangs == 0, summary.problems
    assert summary.canary_failures == 0, summary.problems
    assert summary.canary_records > 100, summary.line()
    assert summary.cases > 500, summary.line()
    assert summary.answered > 0 and summary.closed > 0, summary.line()
    assert summary.max_rss < 512 * 2**20, summary.line()


@pytest.mark.slow
def test_sasl_exchanges_and_tls_garbage_neither_crash_nor_hang_the_broker(
    tmp_path: Path,
) -> None:
    summary = fuzz.run(
        30, seed=20261130, data_dir=tmp_path / "data", save_dir=tmp_path / "saved", security=True
    )
    assert summary.crashes == 0, summary.problems
    assert summary.hangs == 0, summary.problems
    assert summary.canary_failures == 0, summary.problems
    sasl = sum(n for kind, n in summary.by_mutation.items() if kind.startswith("sasl_"))
    tls = sum(n for kind, n in summary.by_mutation.items() if kind.startswith("tls_"))
    assert sasl > 50 and tls > 50, summary.by_mutation
    assert summary.max_rss < 512 * 2**20, summary.line()
