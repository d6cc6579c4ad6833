"""Size-prefixed Kafka frames, sans-IO (as h11 does for HTTP).

Feed bytes with `receive_data`, pull whole frames with `next_frame`. A length prefix is checked
against the limit before any buffering, so a 2 GiB prefix never allocates 2 GiB.
"""

from __future__ import annotations

import struct
from typing import Final

NEED_DATA: Final = None

_LENGTH = struct.Struct(">i")


class FrameError(Exception):
    """The peer sent a frame we must not read: the connection is closed."""


class FrameDecoder:
    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._position = 0

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer) - self._position

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or NEED_DATA. Raises FrameError on a bad size."""
        available = len(self._buffer) - self._position
        if available < 4:
            self._compact()
            return NEED_DATA
        (size,) = _LENGTH.unpack_from(self._buffer, self._position)
        if size < 0:
            raise FrameError(f"negative frame size {size}")
        if size > self.max_frame_bytes:
            raise FrameError(
                f"frame of {size} bytes exceeds socket.request.max.bytes {self.max_frame_bytes}"
            )
        if available < 4 + size:
            self._compact()
            return NEED_DATA
        start = self._position + 4
        with memoryview(self._buffer) as view:  # one copy, not a bytearray slice and then bytes
            frame = bytes(view[start : start + size])
        self._position = start + size
        return frame

    def _compact(self) -> None:
        if self._position:
            del self._buffer[: self._position]
            self._position = 0


def encode_frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload
