"""Kafka's unsigned varint (flexible versions' lengths, counts and tags), written once for
every hand-written codec and the schema writer."""

from __future__ import annotations


def encode_unsigned_varint(value: int) -> bytes:
    if value < 0x80:  # nearly every length and count in a response: one byte
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
