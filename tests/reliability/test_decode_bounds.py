"""A small frame claiming a huge array must be refused before kio reserves room for it.

kio's native reader reserves an array's room from the claimed count; a compact array count of
2**32-2 in a 40-byte frame asked for ~34 GB and a failed allocation aborts the process. The
protocol fuzzer found it (it killed `katka serve` within seconds); katka.protocol.bounds now
refuses counts larger than the bytes left in the frame."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.index import load_request_schema
from kio.serial import entity_writer
from kio.static.primitive import Records

from katka import api
from katka.protocol.bounds import BoundsError, check_bounds
from katka.protocol.old_versions import OLD_VERSIONS
from katka.reliability.fuzz import frame, probe, request_header
from katka.reliability.process import BrokerProcess

st.register_type_strategy(Records, st.binary(max_size=200).map(Records))
st.register_type_strategy(uuid.UUID, st.uuids())

# kio's native reader is what the bounds walk protects; versions kio does not generate are read
# by katka's schema table, which checks every count against the bytes left (old_versions.py).
CASES = [
    (module, version)
    for module in api.ALL
    for version in module.VERSIONS
    if (module.API_KEY, version) not in OLD_VERSIONS
]

# Metadata v9 (flexible): topics is a compact array; the count 2**32-2 as an unsigned varint.
HUGE_COMPACT_COUNT = b"\xff\xff\xff\xff\x0f"
# Metadata v1 (legacy): topics is an int32-counted array.
HUGE_LEGACY_COUNT = struct.pack(">i", 2**31 - 1)


def lying_frames() -> list[bytes]:
    return [
        frame(request_header(3, 9, 1, True) + HUGE_COMPACT_COUNT + b"\x00" * 30),
        frame(request_header(3, 1, 2, False) + HUGE_LEGACY_COUNT + b"\x00\x01a" * 10),
        # Fetch v12: a valid prefix, then a compact topics array of 2**32-2
        frame(
            request_header(1, 12, 3, True)
            + b"\xff\xff\xff\xff"
            + b"\x00" * 21
            + HUGE_COMPACT_COUNT
            + b"\x00" * 10
        ),
    ]


# A few random requests per version in the default run; .ci/run adds the full count (slow).
@pytest.mark.parametrize(
    "examples", [pytest.param(3, id="quick"), pytest.param(15, id="full", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize(
    ("module", "version"), CASES, ids=[f"{m.__name__.split('.')[-1]}-v{v}" for m, v in CASES]
)
def test_every_valid_request_passes_the_bounds_walk(module, version: int, examples: int) -> None:  # type: ignore[no-untyped-def]
    schema = load_request_schema(module.API_KEY, version)
    writer = entity_writer(schema)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request=st.from_type(schema))
    def check(request: object) -> None:
        buffer = io.BytesIO()
        writer(buffer, request)
        check_bounds(schema, buffer.getvalue(), 0)

    check()


def test_a_count_larger_than_the_frame_is_refused_by_the_walk() -> None:
    schema = load_request_schema(3, 9)
    with pytest.raises(BoundsError, match="array of 4294967294 elements"):
        check_bounds(schema, HUGE_COMPACT_COUNT + b"\x00" * 30, 0)


def test_decoding_a_huge_count_raises_decode_error_instead_of_aborting() -> None:
    # In a child process: were the guard gone, the abort must fail this test, not kill pytest.
    script = """
from katka.protocol.codec import DecodeError, decode_request, read_fixed_header
from tests.reliability.test_decode_bounds import lying_frames
for data in lying_frames():
    payload = data[4:]
    try:
        decode_request(payload, read_fixed_header(payload))
    except DecodeError as error:
        print("refused:", error)
    else:
        raise SystemExit("decoded a lie")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("refused:") == 3


def test_the_broker_survives_huge_counts_and_keeps_answering(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    broker = BrokerProcess(tmp_path / "data")
    broker.start()
    try:
        for data in lying_frames():
            with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as connection:
                connection.sendall(data)
                assert connection.recv(100) == b""  # closed, as for any undecodable request
        assert broker.alive(), broker.log_tail()
        assert probe(broker.port)
    finally:
        broker.kill()
