"""Fixtures for the CLI tests: a real broker subprocess (with the admin API) and a runner that
invokes `python -m katka ...` as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import KatkaProcess

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


# The CLI's tests run against the same `katka serve` subprocess the end-to-end tests use.
CliBroker = KatkaProcess


@pytest.fixture(scope="session")
def cli_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliBroker]:
    data_dir = tmp_path_factory.mktemp("katka-cli")
    broker = KatkaProcess(data_dir, ["-o", "group.initial.rebalance.delay.ms=0"]).start()
    yield broker
    broker.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


def run_katka(
    *args: str, input: str | None = None, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "katka", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"katka {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}"
        )
    return completed


@pytest.fixture
def katka(cli_broker: CliBroker) -> Run:
    """Run `python -m katka ARGS --bootstrap-server <the test broker>`."""

    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_katka(*args, "--bootstrap-server", cli_broker.bootstrap, **kwargs)  # type: ignore[arg-type]

    return run


_names = iter(range(1, 1_000_000))


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """unique("orders") -> "orders-<test>-<n>": topic and group names no other test uses."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60].strip("-")

    def make(prefix: str) -> str:
        return f"{prefix}-{base}-{next(_names)}"

    return make
