"""Bytes as pre-0.11 clients write and read them, packed here from Kafka's message specs (not
by katka's own schemas): message formats v0/v1 and a reader of non-flexible responses."""

from __future__ import annotations

import struct
import zlib


def message(
    offset: int,
    magic: int,
    value: bytes | None,
    timestamp: int = 1_000,
    *,
    key: bytes | None = None,
    attributes: int = 0,
) -> bytes:
    """One message of format v0/v1 with its log header (offset, size), CRC-32 signed."""
    body = struct.pack(">bb", magic, attributes)
    if magic == 1:
        body += struct.pack(">q", timestamp)
    for field in (key, value):
        body += struct.pack(">i", -1) if field is None else struct.pack(">i", len(field)) + field
    signed = struct.pack(">I", zlib.crc32(body)) + body
    return struct.pack(">qi", offset, len(signed)) + signed


def message_set(magic: int, *values: bytes, timestamp: int = 1_000) -> bytes:
    return b"".join(message(i, magic, v, timestamp + i) for i, v in enumerate(values))


def read_message_set(data: bytes) -> list[tuple[int, int, int, bytes | None, bytes | None]]:
    """(offset, magic, timestamp or -1, key, value) of each whole message."""
    out = []
    r = Reader(data)
    while len(data) - r.pos >= 12:
        offset, size = r.int(">q"), r.int(">i")
        end = r.pos + size
        crc = r.int(">I")
        assert zlib.crc32(data[r.pos : end]) == crc
        magic, attributes = r.int(">b"), r.int(">b")
        assert attributes & 0x07 == 0
        timestamp = r.int(">q") if magic == 1 else -1
        fields = []
        for _ in range(2):
            length = r.int(">i")
            fields.append(None if length < 0 else data[r.pos : r.pos + length])
            r.pos += max(length, 0)
        assert r.pos == end
        out.append((offset, magic, timestamp, fields[0], fields[1]))
    return out


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def int(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        size = self.int(">h")
        if size < 0:
            return None
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value

    def count(self) -> int:
        return self.int(">i")

    def done(self) -> bool:
        return self.pos == len(self.data)
