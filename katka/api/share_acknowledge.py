"""ShareAcknowledge (key 79), v1-2: acknowledge acquired records without fetching (KIP-932).

Works in the member's share session like ShareFetch (epoch -1 also closes it, releasing the
member's records still acquired, after its acknowledgements are applied); each
acknowledgement batch is all or nothing, its error the partition's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module, timedelta_ms
from katka.api._share import acknowledge, close_session, open_session
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 79
VERSIONS = range(1, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    group_id, member_id = request.group_id or "", request.member_id or ""
    error = ErrorCode.none
    if not node.coordinator.is_active:
        error = ErrorCode.coordinator_load_in_progress
    elif request.share_session_epoch == 0:
        error = ErrorCode.invalid_share_session_epoch  # acknowledging needs an open session
    else:
        try:
            open_session(ctx, node, group_id, member_id, request.share_session_epoch)
        except KafkaError as refused:
            error = refused.code
    responses = ()
    if error is ErrorCode.none:
        responses = tuple(
            make(
                m.ShareAcknowledgeTopicResponse,
                topic_id=topic.topic_id,
                partitions=tuple(
                    make(
                        m.PartitionData,
                        partition_index=p.partition_index,
                        error_code=acknowledge(
                            node,
                            group_id,
                            member_id,
                            topic.topic_id,
                            p.partition_index,
                            p.acknowledgement_batches,
                        ),
                        error_message=None,
                        current_leader=make(
                            m.LeaderIdAndEpoch, leader_id=node.node_id, leader_epoch=0
                        ),
                    )
                    for p in topic.partitions
                ),
            )
            for topic in request.topics
        )
    if error is ErrorCode.none and request.share_session_epoch == -1:
        close_session(node, group_id, member_id)
    return make(
        m.ShareAcknowledgeResponse,
        throttle_time=ZERO,
        error_code=error,
        error_message=None,
        responses=responses,
        node_endpoints=(),
        acquisition_lock_timeout=timedelta_ms(
            node.coordinator.config.share_record_lock_duration_ms
        ),
    )
