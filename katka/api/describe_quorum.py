"""DescribeQuorum (key 55), v0-2: the KRaft quorum of a one-node cluster, this node as its only
voter and leader (what kafka-metadata-quorum.sh describe shows). katka keeps no metadata log,
so the high watermark and the voter's log end offset are 0: nothing to replicate, no lag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 55
VERSIONS = range(0, 3)
METADATA_TOPIC = "__cluster_metadata"
LEADER_EPOCH = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    asked = [(t.topic_name, p.partition_index) for t in request.topics for p in t.partitions]
    if asked != [(METADATA_TOPIC, 0)]:
        return make(
            m.DescribeQuorumResponse,
            error_code=ErrorCode.unknown_topic_or_partition,
            error_message=f"The only quorum is {METADATA_TOPIC}-0.",
            topics=(),
            nodes=(),
        )
    now = node.clock.now_ms()
    voter = make(
        m.ReplicaState,
        replica_id=node.node_id,
        replica_directory_id=None,
        log_end_offset=0,
        last_fetch_timestamp=now,
        last_caught_up_timestamp=now,
    )
    listeners = node.listener_endpoints or {"PLAINTEXT": node.advertised}
    return make(
        m.DescribeQuorumResponse,
        error_code=ErrorCode.none,
        error_message=None,
        topics=(
            make(
                m.TopicData,
                topic_name=METADATA_TOPIC,
                partitions=(
                    make(
                        m.PartitionData,
                        partition_index=0,
                        error_code=ErrorCode.none,
                        error_message=None,
                        leader_id=node.node_id,
                        leader_epoch=LEADER_EPOCH,
                        high_watermark=0,
                        current_voters=(voter,),
                        observers=(),
                    ),
                ),
            ),
        ),
        nodes=(
            make(
                m.Node,
                node_id=node.node_id,
                listeners=tuple(
                    make(m.Listener, name=name, host=endpoint.host, port=endpoint.port)
                    for name, endpoint in listeners.items()
                ),
            ),
        )
        if ctx.api_version >= 2
        else (),
    )
