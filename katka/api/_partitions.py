"""Answering every requested partition exactly once (DESIGN.md rule 3).

A request names topics, each with partitions, and its response mirrors that shape.
`answer_partitions` walks the request in order and asks the handler for one partition's answer;
a KafkaError becomes that partition's error code and an OSError KAFKA_STORAGE_ERROR, so one
bad partition never fails its neighbours and none is left out or answered twice.
`by_topic` is the other direction: flat per-partition results from the domain, folded back
into topics in the order the topics first appear.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from katka.api._build import make
from katka.errors import ErrorCode, KafkaError

Topic = TypeVar("Topic")
Partition = TypeVar("Partition")
Answer = TypeVar("Answer")
Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)


def answer_partitions(
    topics: Iterable[Topic],
    partitions_of: Callable[[Topic], Iterable[Partition]],
    answer: Callable[[Topic, Partition], Answer],
    refuse: Callable[[Topic, Partition, ErrorCode, str | None], Answer],
    topic_response: Callable[[Topic, tuple[Answer, ...]], Any],
) -> tuple[Any, ...]:
    """One topic response per requested topic, each holding one answer per requested
    partition: `answer(topic, partition)`, or `refuse(...)` with the error it raised."""
    responses = []
    for topic in topics:
        answers = []
        for partition in partitions_of(topic):
            try:
                result = answer(topic, partition)
            except KafkaError as error:
                result = refuse(topic, partition, error.code, error.message)
            except OSError as error:
                message = f"storage error: {error.strerror or error}"
                result = refuse(topic, partition, ErrorCode.kafka_storage_error, message)
            answers.append(result)
        responses.append(topic_response(topic, tuple(answers)))
    return tuple(responses)


def by_topic(
    items: Iterable[Item],
    topic_of: Callable[[Item], Key],
    partition_response: Callable[[Item], Answer],
    topic_response: Callable[[Key, tuple[Answer, ...]], Any],
) -> tuple[Any, ...]:
    """Fold per-partition results into topic responses, topics in first-seen order."""
    grouped: dict[Key, list[Answer]] = {}
    for item in items:
        grouped.setdefault(topic_of(item), []).append(partition_response(item))
    return tuple(topic_response(key, tuple(answers)) for key, answers in grouped.items())


def error_codes_by_topic(
    results: Iterable[Any], partition_cls: type, topic_cls: type
) -> tuple[Any, ...]:
    """Topics of partitions answered by an error code alone (OffsetCommit, TxnOffsetCommit,
    OffsetDelete); each result has .topic, .partition and .error_code."""
    return by_topic(
        results,
        lambda p: p.topic,
        lambda p: make(partition_cls, partition_index=p.partition, error_code=p.error_code),
        lambda name, partitions: make(topic_cls, name=name, partitions=partitions),
    )
