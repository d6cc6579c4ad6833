"""AlterReplicaLogDirs (key 34), v0-2 (v0 as Kafka 3.9 had it): move replicas between a
broker's log directories.
katka has one directory, so a partition asked to stay there is answered NONE (already done), a
path that is not it LOG_DIR_NOT_FOUND, and an unknown partition UNKNOWN_TOPIC_OR_PARTITION."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._log_dirs import log_dir
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 34
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    ours = log_dir(node)
    by_topic: dict[str, list[Any]] = {}
    for wanted in request.dirs:
        here = os.path.abspath(wanted.path) == ours
        for topic in wanted.topics:
            for partition in topic.partitions:
                if not node.topics.partition_exists(topic.name, partition):
                    error = ErrorCode.unknown_topic_or_partition
                else:
                    error = ErrorCode.none if here else ErrorCode.log_dir_not_found
                by_topic.setdefault(topic.name, []).append(
                    make(
                        m.AlterReplicaLogDirPartitionResult,
                        partition_index=partition,
                        error_code=error,
                    )
                )
    return make(
        m.AlterReplicaLogDirsResponse,
        throttle_time=ZERO,
        results=tuple(
            make(m.AlterReplicaLogDirTopicResult, topic_name=name, partitions=tuple(results))
            for name, results in by_topic.items()
        ),
    )
