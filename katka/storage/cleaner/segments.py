"""How the cleaner (its process, or a thread) reads closed segments and writes cleaned ones:
the engines (memory.py, disk/) provide these, so the cleaning itself (job.py) knows no
engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from katka.protocol.batches import BatchHeader
from katka.storage.cleaner.plan import SegmentInfo


class CleanedWriter(Protocol):
    """A cleaned segment being written aside (disk: `.cleaned` files)."""

    def append(self, batch: bytes | memoryview, header: BatchHeader) -> None: ...

    def finish(self, last_modified_ms: int) -> None:
        """Make it durable (fsync) before the loop may swap it in."""
        ...

    def discard(self) -> None: ...


@dataclass
class SegmentSource:
    info: SegmentInfo
    batches: Callable[[], Iterator[tuple[BatchHeader, memoryview]]]  # thread-safe reads
    release: Callable[[], None] = lambda: None
