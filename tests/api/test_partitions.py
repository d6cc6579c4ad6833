"""The one helper that answers every requested partition, and the fold back into topics."""

from __future__ import annotations

import errno

from katka.api._partitions import answer_partitions, by_topic
from katka.errors import ErrorCode, KafkaError

REQUEST = [("a", [0, 1, 2]), ("b", [5]), ("c", [])]


def answer(topic: tuple[str, list[int]], partition: int) -> tuple[int, ErrorCode, str | None]:
    if partition == 1:
        raise KafkaError(ErrorCode.unknown_leader_epoch, "epoch")
    if partition == 2:
        raise OSError(errno.ENOSPC, "No space left on device")
    return (partition, ErrorCode.none, None)


def test_each_requested_partition_is_answered_once_in_order_errors_as_codes() -> None:
    topics = answer_partitions(
        REQUEST,
        lambda topic: topic[1],
        answer,
        lambda _topic, partition, code, message: (partition, code, message),
        lambda topic, answers: (topic[0], answers),
    )
    assert topics == (
        (
            "a",
            (
                (0, ErrorCode.none, None),
                (1, ErrorCode.unknown_leader_epoch, "epoch"),
                (2, ErrorCode.kafka_storage_error, "storage error: No space left on device"),
            ),
        ),
        ("b", ((5, ErrorCode.none, None),)),
        ("c", ()),
    )


def test_results_fold_into_topics_in_first_seen_order() -> None:
    results = [("b", 1), ("a", 0), ("b", 0)]
    assert by_topic(results, lambda r: r[0], lambda r: r[1], lambda topic, ps: (topic, ps)) == (
        ("b", (1, 0)),
        ("a", (0,)),
    )
