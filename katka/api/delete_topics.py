"""DeleteTopics (key 20), v0-6 (v6 names topics by name or by id; v0 has no throttle time).
A topic's partitions are deleted in slices while other clients are served."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from katka.api._authorize import DELETE, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 20
VERSIONS = range(0, 7)
ZERO_UUID = uuid.UUID(int=0)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    return node.topics.run_to_completion(_delete(ctx, request, node))


async def _delete(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    if ctx.api_version >= 6:
        targets = [(t.name, t.topic_id) for t in request.topics]
    else:
        targets = [(name, None) for name in request.topic_names]
    results = []
    for name, topic_id in targets:
        error, message = ErrorCode.none, None
        try:
            if not node.config.get_bool("delete.topic.enable"):
                raise KafkaError(ErrorCode.topic_deletion_disabled, "Topic deletion is disabled.")
            if name is None and topic_id not in (None, ZERO_UUID):
                found = node.topics.catalog.by_id(topic_id)
                if found is None:
                    raise KafkaError(
                        ErrorCode.unknown_topic_id, f"Topic id {topic_id} does not exist"
                    )
                name = found.name
            if name is None:
                raise KafkaError(ErrorCode.invalid_request, "Neither topic name nor id was given")
            if not authorized(ctx, node, DELETE, TOPIC, name):
                raise KafkaError(
                    ErrorCode.topic_authorization_failed, "Topic authorization failed."
                )
            deleted = await node.topics.delete_topic_in_slices(name)
            topic_id = deleted.topic_id
            # fetches parked on the topic answer UNKNOWN_TOPIC_OR_PARTITION now
            node.appends.notify((name, partition) for partition in range(deleted.partitions))
        except KafkaError as exc:
            error, message = exc.code, exc.message
        results.append(
            make(
                m.DeletableTopicResult,
                name=name,
                topic_id=topic_id or ZERO_UUID,
                error_code=error,
                error_message=message,
            )
        )
    return make(m.DeleteTopicsResponse, throttle_time=ZERO, responses=tuple(results))
