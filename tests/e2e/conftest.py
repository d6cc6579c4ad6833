from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from katka.reliability.process import BrokerProcess, free_port

StartKatka = Callable[..., BrokerProcess]


def _starter(data_root: Path) -> Iterator[StartKatka]:
    started: list[BrokerProcess] = []

    def start(
        extra_args: list[str] | None = None,
        data_dir: Path | None = None,
        port: int | None = None,
        place: bool = True,
    ) -> BrokerProcess:
        process = BrokerProcess(
            data_dir or data_root / "data", extra_args=extra_args or [], port=port, place=place
        )
        started.append(process)
        process.start(30)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def start_katka(tmp_path: Path) -> Iterator[StartKatka]:
    """Start `katka serve` subprocesses; all are killed at the end of the test."""
    yield from _starter(tmp_path)


@pytest.fixture(scope="module")
def start_module_katka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartKatka]:
    """Start `katka serve` subprocesses shared by a module's tests (each of which uses topics
    and groups of its own and never stops the broker); all are killed after the module."""
    yield from _starter(tmp_path_factory.mktemp("katka-module"))


@pytest.fixture(scope="session")
def katka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker shared by the end-to-end tests that need nothing special (topics, groups and
    transactional ids must be unique per test); a start costs about a second of CPU."""
    data_dir = tmp_path_factory.mktemp("katka")
    process = BrokerProcess(data_dir, overrides=["group.initial.rebalance.delay.ms=0"])
    process.start(30)
    yield process
    process.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def katka_with_admin(tmp_path: Path) -> Iterator[tuple[BrokerProcess, str]]:
    """A broker of its own and its admin listener's HOST:PORT (metrics, console)."""
    admin = f"127.0.0.1:{free_port()}"
    overrides = ["group.initial.rebalance.delay.ms=0", f"katka.admin.listener={admin}"]
    process = BrokerProcess(tmp_path / "data", overrides=overrides)
    process.start(30)
    try:
        yield process, admin
    finally:
        process.kill()


def kcat_path() -> str:
    found = shutil.which("kcat") or shutil.which("kafkacat")
    if found is None:
        pytest.skip("kcat is not installed (.ci/run installs it)")
    return found
