"""DescribeLogDirs (key 35), v0-4 (v0 as Kafka 3.9 had it): the one log directory with the size of
every partition (what UIs and kafka-log-dirs.sh show as topic sizes). No replica is ever moving
between directories, so offset_lag is 0 and is_future_key false. A topic named but unknown is
left out, as Kafka does; v4 adds the file system's total and usable bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._log_dirs import disk_usage, log_dir
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 35
VERSIONS = range(0, 5)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    catalog = node.topics.catalog
    if request.topics is None:
        wanted = [(info.name, list(range(info.partitions))) for info in catalog]
    else:
        wanted = [(t.topic, list(t.partitions)) for t in request.topics]
    topics = []
    for name, partitions in wanted:
        present = [p for p in partitions if node.topics.partition_exists(name, p)]
        if not present:
            continue
        topics.append(
            make(
                m.DescribeLogDirsTopic,
                name=name,
                partitions=tuple(
                    make(
                        m.DescribeLogDirsPartition,
                        partition_index=p,
                        partition_size=node.topics.get_log(name, p).size_bytes,
                        offset_lag=0,
                        is_future_key=False,
                    )
                    for p in present
                ),
            )
        )
    path = log_dir(node)
    total, usable = disk_usage(path)
    return make(
        m.DescribeLogDirsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        results=(
            make(
                m.DescribeLogDirsResult,
                error_code=ErrorCode.none,
                log_dir=path,
                topics=tuple(topics),
                total_bytes=total,
                usable_bytes=usable,
            ),
        ),
    )
