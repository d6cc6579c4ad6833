"""FrameDecoder: whole frames out of arbitrary chunks; bad sizes refused before buffering."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from katka.protocol.framing import NEED_DATA, FrameDecoder, FrameError, encode_frame


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=50),
)
def test_frames_come_out_whole_and_in_order_however_the_bytes_are_split(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder(max_frame_bytes=1000)
    received = []
    position = 0
    cut_index = 0
    while position < len(stream):
        size = cuts[cut_index % len(cuts)]
        cut_index += 1
        decoder.receive_data(stream[position : position + size])
        position += size
        while (frame := decoder.next_frame()) is not NEED_DATA:
            received.append(frame)
    assert received == payloads
    assert decoder.buffered_bytes == 0


def test_a_length_prefix_above_the_limit_is_refused_without_buffering() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.receive_data(struct.pack(">i", 2**31 - 1))
    with pytest.raises(FrameError, match="socket.request.max.bytes"):
        decoder.next_frame()


def test_a_negative_length_prefix_is_refused() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.receive_data(struct.pack(">i", -1))
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_a_partial_frame_waits_for_more_data() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.receive_data(struct.pack(">i", 10) + b"12345")
    assert decoder.next_frame() is NEED_DATA
    decoder.receive_data(b"67890")
    assert decoder.next_frame() == b"1234567890"
