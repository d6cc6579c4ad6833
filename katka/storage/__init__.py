"""Partition logs behind a narrow Protocol (base.py) with two engines.

`MemoryStorageEngine` (memory.py) is cheap to import; the disk engine lives in
`katka.storage.disk` and is imported only by whoever builds it (broker.py).
"""

from katka.storage.base import AppendInfo, LogConfig, PartitionLog, StorageEngine, TimestampOffset
from katka.storage.memory import MemoryStorageEngine

__all__ = [
    "AppendInfo",
    "LogConfig",
    "MemoryStorageEngine",
    "PartitionLog",
    "StorageEngine",
    "TimestampOffset",
]
