"""Two brokers on one data directory: the second is refused (Kafka's `.lock`), and a crash
leaves nothing that blocks a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from katka.embed import embedded, start_embedded
from katka.reliability.process import BrokerProcess
from katka.storage.disk.lock import DataDirectoryInUse


def test_a_second_broker_on_the_same_data_directory_exits_naming_the_first(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    first = start_katka()
    assert first.process is not None

    second = BrokerProcess(first.data_dir)
    code = second.start_refused()

    assert code == 1
    assert second.output == [
        f"katka: cannot start: data directory {first.data_dir} is in use by another katka "
        f"broker (pid {first.process.pid}): stop it first or use another data directory"
    ]
    assert first.process.poll() is None  # the first one runs on, untouched


def test_the_lock_is_free_after_the_holder_is_killed(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    first = start_katka()
    first.kill()  # SIGKILL: no clean shutdown

    second = start_katka(data_dir=first.data_dir)

    assert second.ready_line


def test_an_embedded_broker_holds_its_data_directory_until_it_stops(tmp_path: Path) -> None:
    with embedded(data_dir=tmp_path), pytest.raises(DataDirectoryInUse, match="pid"):
        start_embedded(tmp_path)
    with embedded(data_dir=tmp_path) as again:
        assert again.bootstrap_servers
