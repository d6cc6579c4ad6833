"""Partition logs behind a narrow Protocol (base.py) with two engines.

`MemoryStorageEngine` (memory.py) and the disk engine (`katka.storage.disk`) are imported
only by whoever builds them: a serving broker never loads the memory engine.
"""

from typing import TYPE_CHECKING, Any

from katka.storage.base import AppendInfo, LogConfig, PartitionLog, StorageEngine, TimestampOffset

if TYPE_CHECKING:
    from katka.storage.memory import MemoryStorageEngine

__all__ = [
    "AppendInfo",
    "LogConfig",
    "MemoryStorageEngine",
    "PartitionLog",
    "StorageEngine",
    "TimestampOffset",
]


def __getattr__(name: str) -> Any:
    if name == "MemoryStorageEngine":
        from katka.storage.memory import MemoryStorageEngine

        return MemoryStorageEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
