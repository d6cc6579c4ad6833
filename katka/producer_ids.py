"""Producer id allocation for InitProducerId: ids are unique across restarts.

Ids are handed out from blocks; the end of the current block is persisted before any id in it
is used, so after a crash allocation resumes past every id that may have been handed out.
"""

from __future__ import annotations

import json
from pathlib import Path

from katka.metadata.catalog import write_atomically

BLOCK_SIZE = 1000


class ProducerIdManager:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._next = 0
        self._block_end = 0
        if path is not None and path.exists():
            self._next = self._block_end = int(json.loads(path.read_text())["block_end"])

    def next_producer_id(self) -> int:
        if self._next >= self._block_end:
            self._block_end = self._next + BLOCK_SIZE
            if self._path is not None:
                write_atomically(self._path, json.dumps({"block_end": self._block_end}).encode())
        producer_id = self._next
        self._next += 1
        return producer_id
