"""Disk storage: segments of `.log` / `.index` / `.timeindex` files per partition directory."""

from katka.storage.disk.engine import DiskStorageEngine
from katka.storage.disk.log import DiskPartitionLog

__all__ = ["DiskPartitionLog", "DiskStorageEngine"]
