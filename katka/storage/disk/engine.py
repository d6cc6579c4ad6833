"""The disk storage engine: one directory per partition under `data_dir`.

Theory of operation: `data_dir/.clean_shutdown` exists only between a clean `close()` and the
next start-up, which removes it at once. When it was there, logs open cheaply, trusting their
indexes; when it was not, each log recovers the segments after its recovery point (see
log.py). Logs open lazily, when the broker asks for them, so start-up costs nothing per
partition until then.

Partition directories are named f"{topic}-{partition}"; topic names may contain '-', so the
partition is parsed from the right.

The engine holds the directory's `.lock` (lock.py) from construction to `close()`, before it
reads or removes anything there.
"""

from __future__ import annotations

import os

from katka.storage.base import LogConfig
from katka.storage.disk.lock import DataDirectoryLock
from katka.storage.disk.log import DiskPartitionLog

CLEAN_SHUTDOWN_FILE = ".clean_shutdown"


def partition_directory_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def parse_partition_directory_name(name: str) -> tuple[str, int] | None:
    topic, separator, partition = name.rpartition("-")
    if not separator or not topic or not partition.isdigit():
        return None
    return topic, int(partition)


class DiskStorageEngine:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = os.fspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.lock = DataDirectoryLock(self.data_dir)
        marker = os.path.join(self.data_dir, CLEAN_SHUTDOWN_FILE)
        self._recovered_cleanly = os.path.exists(marker)
        if self._recovered_cleanly:
            os.unlink(marker)  # from now on a crash must not look clean
            _fsync_directory(self.data_dir)
        self._logs: dict[tuple[str, int], DiskPartitionLog] = {}

    def _directory(self, topic: str, partition: int) -> str:
        return os.path.join(self.data_dir, partition_directory_name(topic, partition))

    def open_log(self, topic: str, partition: int, config: LogConfig) -> DiskPartitionLog:
        log = self._logs.get((topic, partition))
        if log is not None:
            log.config = config
            return log
        log = DiskPartitionLog.open(
            topic,
            partition,
            config,
            self._directory(topic, partition),
            self._recovered_cleanly,
            # Internal topics (the coordinator's __consumer_offsets) are replayed whole at
            # start-up: scan them all, so a damaged batch is truncated rather than met by replay.
            verify_all=topic.startswith("__"),
        )
        self._logs[(topic, partition)] = log
        return log

    def delete_log(self, topic: str, partition: int) -> None:
        log = self._logs.pop((topic, partition), None)
        if log is not None:
            log.close_files()
        import shutil  # (and its compression modules) only once a partition is deleted

        shutil.rmtree(self._directory(topic, partition), ignore_errors=True)

    def existing_logs(self) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        with os.scandir(self.data_dir) as entries:
            for entry in entries:
                parsed = parse_partition_directory_name(entry.name)
                if parsed is not None and entry.is_dir():
                    found.append(parsed)
        return sorted(found)

    @property
    def recovered_cleanly(self) -> bool:
        return self._recovered_cleanly

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        with open(os.path.join(self.data_dir, CLEAN_SHUTDOWN_FILE), "wb") as marker:
            os.fsync(marker.fileno())
        _fsync_directory(self.data_dir)
        self.lock.release()


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
