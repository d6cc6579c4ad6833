import struct

import pytest

from katka.coordinator.classic.consumer_protocol import (
    ConsumerProtocolError,
    assigned_partition_count,
    encode_assignment,
    encode_subscription,
    parse_assignment,
    parse_subscription,
)


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_subscription_round_trips_for_every_version(version):
    data = encode_subscription(
        ["orders", "payments"],
        version=version,
        user_data=b"\x01\x02",
        owned_partitions={"orders": [0, 2]},
        generation_id=7,
        rack_id="rack-1",
    )
    sub = parse_subscription(data)
    assert sub.version == version
    assert sub.topics == ("orders", "payments")
    assert sub.user_data == b"\x01\x02"
    assert sub.owned_partitions == ((("orders", (0, 2)),) if version >= 1 else ())
    assert sub.generation_id == (7 if version >= 2 else -1)
    assert sub.rack_id == ("rack-1" if version >= 3 else None)


def test_a_future_subscription_version_is_read_as_its_known_prefix():
    data = encode_subscription(["orders"], version=3, rack_id="r") + b"future-field"
    data = struct.pack(">h", 9) + data[2:]
    assert parse_subscription(data).topics == ("orders",)


def test_a_subscription_claiming_v1_without_owned_partitions_is_accepted():
    data = struct.pack(">h", 1) + encode_subscription(["orders"], version=0)[2:]
    assert parse_subscription(data).owned_partitions == ()


def test_truncated_or_negative_version_data_is_rejected():
    with pytest.raises(ConsumerProtocolError):
        parse_subscription(encode_subscription(["orders"])[:-3])
    with pytest.raises(ConsumerProtocolError):
        parse_subscription(struct.pack(">h", -1))


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_assignment_round_trips_and_counts_partitions(version):
    data = encode_assignment({"orders": [0, 1, 2], "audit": [0]}, version=version, user_data=b"x")
    assignment = parse_assignment(data)
    assert assignment.partitions == (("orders", (0, 1, 2)), ("audit", (0,)))
    assert assignment.user_data == b"x"
    assert assignment.partition_count == 4


def test_assigned_partition_count_of_empty_and_garbage_assignments():
    assert assigned_partition_count(b"") == 0
    assert assigned_partition_count(b"\x00") is None
