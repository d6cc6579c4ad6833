"""The LZ4 header checksum of pre-0.10 message sets: XXH32 as the xxHash reference computes
it, and the frames a correct LZ4 writer produces left as they are."""

from __future__ import annotations

import cramjam
import pytest

from katka.protocol.message_sets import fix_lz4_header_checksum, xxh32


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", 0x02CC5D05),
        (b"a", 0x550D7456),
        (b"abc", 0x32D153FF),
        (b"Nobody inspects the spammish repetition", 0xE2293B2F),
    ],
)
def test_xxh32_matches_the_reference_values(data: bytes, digest: int) -> None:
    assert xxh32(data) == digest


@pytest.mark.parametrize("payload", [b"", b"x", b"hello" * 1000])
def test_a_correct_lz4_frame_keeps_its_header_checksum(payload: bytes) -> None:
    frame = bytes(cramjam.lz4.compress(payload))
    assert fix_lz4_header_checksum(frame) == frame


def test_a_kafka_0_8_lz4_frame_gets_the_checksum_the_format_wants() -> None:
    frame = bytearray(cramjam.lz4.compress(b"old client" * 20))
    frame[6] = (xxh32(bytes(frame[0:6])) >> 8) & 0xFF  # hashed with the magic, as 0.8 did
    fixed = fix_lz4_header_checksum(bytes(frame))
    assert bytes(cramjam.lz4.decompress(fixed)) == b"old client" * 20
