"""Fixtures for the CLI tests: a real broker subprocess (with the admin API), and runners for
`katka ...`: in-process (click's runner: the same code path, a fraction of the time) and as a
subprocess (`python -m katka`, the way a user runs it: one smoke test per command group)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from katka.cli.main import run
from katka.reliability.process import BrokerProcess

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


# The CLI's tests run against the same `katka serve` subprocess the end-to-end tests use.
CliBroker = BrokerProcess


@pytest.fixture(scope="session")
def cli_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliBroker]:
    data_dir = tmp_path_factory.mktemp("katka-cli")
    broker = BrokerProcess(data_dir, overrides=["group.initial.rebalance.delay.ms=0"])
    broker.start(30)
    yield broker
    broker.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


def run_katka(
    *args: str, input: str | None = None, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`katka ARGS` in this process: stdin, stdout and stderr captured, the exit code returned
    by katka.cli.main.run (the function `katka` itself calls). `timeout` is for the signature
    shared with run_katka_process; pytest-timeout bounds an in-process run."""
    with CliRunner().isolation(input=input, env={"COLUMNS": "200"}) as (stdout, stderr, _):
        code = run(list(args))
        sys.stdout.flush()
        sys.stderr.flush()
        completed = subprocess.CompletedProcess(
            ["katka", *args], code, stdout.getvalue().decode(), stderr.getvalue().decode()
        )
    return checked(completed, check)


def run_katka_process(
    *args: str, input: str | None = None, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m katka ARGS` as a subprocess, as a user runs it."""
    completed = subprocess.run(
        [sys.executable, "-m", "katka", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )
    return checked(completed, check)


def checked(
    completed: subprocess.CompletedProcess[str], check: bool
) -> subprocess.CompletedProcess[str]:
    if check and completed.returncode != 0:
        command = " ".join(str(arg) for arg in completed.args)
        raise AssertionError(f"{command} exited {completed.returncode}:\n{completed.stderr}")
    return completed


@pytest.fixture
def katka(cli_broker: CliBroker) -> Run:
    """Run `katka ARGS --bootstrap-server <the test broker>` in-process."""

    def invoke(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_katka(*args, "--bootstrap-server", cli_broker.bootstrap, **kwargs)  # type: ignore[arg-type]

    return invoke


_names = iter(range(1, 1_000_000))


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """unique("orders") -> "orders-<test>-<n>": topic and group names no other test uses."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60].strip("-")

    def make(prefix: str) -> str:
        return f"{prefix}-{base}-{next(_names)}"

    return make
