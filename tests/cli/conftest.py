"""Fixtures for the CLI tests: a real broker subprocess (with the admin API) and a runner that
invokes `python -m katka ...` as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import free_port

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


class CliBroker:
    """`katka serve` (with its admin HTTP API) as a subprocess."""

    def __init__(self, data_dir: Path, extra_args: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> CliBroker:
        command = [
            sys.executable,
            "-m",
            "katka.cli.serve",
            "--listen",
            self.bootstrap,
            "--data-dir",
            str(self.data_dir),
            "-o",
            "group.initial.rebalance.delay.ms=0",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if line.startswith("katka ready"):
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("katka did not start:\n" + "\n".join(self.output))
        if self.process.poll() is not None:
            raise RuntimeError("katka exited:\n" + "\n".join(self.output))
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="session")
def cli_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliBroker]:
    data_dir = tmp_path_factory.mktemp("katka-cli")
    broker = CliBroker(data_dir).start()
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
