"""An idle consumer's Fetch answered again without reading its partitions again.

A consumer long-polling a partition with nothing new sends the same Fetch over and over, and
the dispatcher hands the handler the very same decoded request each time (server/dispatch.py
remembers a connection's last small request). When the last full fetch on the connection
(no fetch session: epoch -1) read no records and no errors, its response is remembered with
what it depended on: each partition's log object (a deleted and re-created topic has a new
one), high watermark, last stable offset and log start offset. Empty records and no error
follow from those alone, so while they hold the same request gets the same answer; the
read is what an expired idle long poll spent most of its handler time on (issue 17).

Never remembered under an authorizer (ACLs may change between two polls) or for a response
with records or an error.

The connection may park such a fetch without dispatching it at all (server/idle_fetch.py):
the remembered response's bytes are then kept too, to answer every expired poll with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node
    from katka.security.session import Session
    from katka.storage.base import PartitionLog


@dataclass(slots=True)
class RememberedFetch:
    decoded: Any  # the request as the dispatcher decoded it
    request: Any  # as the handler reads it (v13+: topics by name)
    response: Any
    partitions: tuple[tuple[str, int], ...]
    states: tuple[tuple[PartitionLog, int, int, int], ...]
    # The encoded response but for its correlation id: the bytes before it and after it.
    encoded: tuple[bytes, bytes] | None = None

    def still_holds(self, node: Node) -> bool:
        logs = node.topics
        try:
            for (topic, partition), (log, high_watermark, last_stable, log_start) in zip(
                self.partitions, self.states, strict=True
            ):
                if (
                    logs.get_log(topic, partition) is not log
                    or log.high_watermark != high_watermark
                    or log.last_stable_offset != last_stable
                    or log.log_start_offset != log_start
                ):
                    return False
        except KafkaError:
            return False
        return True


def remembered(session: Session, decoded: Any, node: Node) -> RememberedFetch | None:
    """The connection's remembered answer to this very request, if it still holds."""
    memo: RememberedFetch | None = session.remembered_fetch
    if memo is None or memo.decoded is not decoded:
        return None
    if node.authorizer.enabled or not memo.still_holds(node):
        session.remembered_fetch = None
        return None
    return memo


def maybe_remember(session: Session, decoded: Any, request: Any, response: Any, node: Node) -> None:
    """Remember an answer read just now (same loop turn) when it held no records or errors."""
    session.remembered_fetch = None
    if node.authorizer.enabled:
        return
    for topic_response in response.responses:
        for partition in topic_response.partitions:
            if partition.error_code != ErrorCode.none or partition.records:
                return
    partitions = []
    states = []
    for topic in request.topics:
        name = topic.topic
        for fetch_partition in topic.partitions:
            log = node.topics.get_log(name, fetch_partition.partition)
            partitions.append((name, fetch_partition.partition))
            states.append((log, log.high_watermark, log.last_stable_offset, log.log_start_offset))
    session.remembered_fetch = RememberedFetch(
        decoded, request, response, tuple(partitions), tuple(states)
    )
