"""What the fuzzer sends: a case (frames written in order), the framing helpers, and the
mutations of a valid request (see fuzz.py for what they are checked against)."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass


@dataclass
class Case:
    mutation: str
    chunks: list[bytes]  # sent in order with a short pause between them
    expect_answer: bool = True


def request_header(
    api_key: int, version: int, correlation_id: int, flexible: bool, client_id: bytes = b"fuzz"
) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    return header + (b"\x00" if flexible else b"")


def frame(payload: bytes, size: int | None = None) -> bytes:
    return struct.pack(">i", len(payload) if size is None else size) + payload


def is_flexible_header(api_key: int, version: int) -> bool:
    from kio.index import load_request_schema

    try:
        schema = load_request_schema(api_key, version)
    except Exception:
        return False
    return bool(schema.__header_schema__.__version__ >= 2)


# --- mutations --------------------------------------------------------------------------------

HUGE_INT32 = [2**31 - 1, 2**31 - 2, 2**30, -1, -2, -(2**31), 0x7FFFFFF0, 65536]
HUGE_UVARINT = [b"\xff\xff\xff\xff\x0f", b"\xfe\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x08"]


def _flip_bits(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _overwrite(rng: random.Random, data: bytearray, chunk: bytes, start: int = 0) -> None:
    if len(data) <= start:
        data.extend(chunk)
        return
    position = rng.randrange(start, len(data))
    data[position : position + len(chunk)] = chunk


def mutate(rng: random.Random, api_key: int, version: int, body: bytes, correlation: int) -> Case:
    flexible = is_flexible_header(api_key, version)
    header = request_header(api_key, version, correlation, flexible)
    payload = bytearray(header + body)
    body_start = len(header)
    kind = rng.choice(
        [
            "valid",
            "bit_flips",
            "truncate",
            "huge_length_prefix",
            "negative_length_prefix",
            "huge_count",
            "huge_uvarint",
            "negative_size",
            "wrong_version",
            "unknown_key",
            "random_bytes",
            "insert_delete",
            "glued_frames",
            "trickle",
            "bit_flips_body",
        ]
    )
    if kind == "valid":
        return Case(kind, [frame(bytes(payload))])
    if kind in ("bit_flips", "bit_flips_body"):
        start = body_start if kind == "bit_flips_body" else 0
        tail = payload[start:]
        _flip_bits(rng, tail)
        payload[start:] = tail
        return Case(kind, [frame(bytes(payload))])
    if kind == "truncate":
        cut = rng.randrange(len(payload) + 1)
        return Case(kind, [frame(bytes(payload[:cut]))])
    if kind == "huge_length_prefix":
        size = rng.choice([2**31 - 1, 2**30, 200 * 2**20, 100 * 2**20 + 1, 50 * 2**20])
        return Case(kind, [frame(bytes(payload), size)], expect_answer=False)
    if kind == "negative_length_prefix":
        return Case(kind, [frame(bytes(payload), rng.choice([-1, -(2**31), -4]))])
    if kind == "huge_count":
        for _ in range(rng.randint(1, 3)):
            _overwrite(rng, payload, struct.pack(">i", rng.choice(HUGE_INT32)), body_start)
        return Case(kind, [frame(bytes(payload))])
    if kind == "huge_uvarint":
        for _ in range(rng.randint(1, 2)):
            _overwrite(rng, payload, rng.choice(HUGE_UVARINT), body_start)
        return Case(kind, [frame(bytes(payload))])
    if kind == "negative_size":
        chunk = rng.choice([b"\xff\xff", b"\xff\xfe", b"\xff\xff\xff\xfe", b"\x80\x00"])
        _overwrite(rng, payload, chunk, body_start)
        return Case(kind, [frame(bytes(payload))])
    if kind == "wrong_version":
        struct.pack_into(">h", payload, 2, rng.choice([-1, 0, 1, version + 1, version - 1, 99]))
        return Case(kind, [frame(bytes(payload))])
    if kind == "unknown_key":
        struct.pack_into(">h", payload, 0, rng.choice([-1, 32767, 1000, 57, 68, 74]))
        return Case(kind, [frame(bytes(payload))])
    if kind == "random_bytes":
        size = rng.choice([0, 1, 4, 8, 20, 100, 1000])
        return Case(kind, [frame(rng.randbytes(size))])
    if kind == "insert_delete":
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(payload) + 1)
            if rng.random() < 0.5 and position < len(payload):
                del payload[position : position + rng.randint(1, 4)]
            else:
                payload[position:position] = rng.randbytes(rng.randint(1, 4))
        return Case(kind, [frame(bytes(payload))])
    if kind == "glued_frames":
        second = bytearray(payload)
        _flip_bits(rng, second)
        return Case(kind, [frame(bytes(payload)) + frame(bytes(second)) + frame(bytes(payload))])
    assert kind == "trickle"
    data = frame(bytes(payload))
    step = rng.randint(1, 7)
    return Case(kind, [data[i : i + step] for i in range(0, len(data), step)][:200])
