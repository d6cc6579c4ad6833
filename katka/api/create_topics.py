"""CreateTopics (key 19), v0-7: validate_only, configs, TOPIC_ALREADY_EXISTS,
INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR (only 1, or -1 for
the default, exists on one node), INVALID_CONFIG. v5+ returns the resulting configs. v0-1
(Kafka 4.0 dropped them) have no throttle time, v0 no validate_only and no error message.

A request adding more than `katka.max.partitions.per.request` partitions in all is refused
whole with POLICY_VIOLATION, as Kafka's controller does; the partitions of an accepted one are
created in slices while other clients are served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, CREATE, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.api.describe_configs import topic_config_entries
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 19
VERSIONS = range(0, 8)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    return node.topics.run_to_completion(_create(ctx, request, node))


def _requested_partitions(request: Any, node: Node) -> int:
    default = node.config.get_int("num.partitions")
    return sum(
        len(t.assignments)
        if t.assignments
        else (default if t.num_partitions == -1 else max(t.num_partitions, 0))
        for t in request.topics
    )


async def _create(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    seen: set[str] = set()
    try:
        node.topics.check_request_partitions(_requested_partitions(request, node))
        refused = None
    except KafkaError as exc:
        refused = exc
    for topic in request.topics:
        error, message = ErrorCode.none, None
        partitions = topic.num_partitions
        configs: dict[str, str] = {}
        topic_id = None
        try:
            if refused is not None:
                raise refused
            if topic.name in seen:
                raise KafkaError(ErrorCode.invalid_request, f"Duplicate topic name {topic.name}")
            seen.add(topic.name)
            if not (
                authorized(ctx, node, CREATE, CLUSTER)
                or authorized(ctx, node, CREATE, TOPIC, topic.name)
            ):
                raise KafkaError(
                    ErrorCode.topic_authorization_failed, "Topic authorization failed."
                )
            if topic.assignments:
                if topic.num_partitions != -1 or topic.replication_factor != -1:
                    raise KafkaError(
                        ErrorCode.invalid_request,
                        "Both numPartitions or replicationFactor and replicasAssignments were set.",
                    )
                partitions = len(topic.assignments)
                if any(list(a.broker_ids) != [node.node_id] for a in topic.assignments):
                    raise KafkaError(ErrorCode.invalid_replica_assignment, "Only broker 1 exists")
            if partitions == -1:
                partitions = node.config.get_int("num.partitions")
            if topic.replication_factor not in (-1, 1) and not topic.assignments:
                raise KafkaError(
                    ErrorCode.invalid_replication_factor,
                    f"Unable to replicate the partition {topic.replication_factor} time(s): "
                    "The target replication factor of "
                    f"{topic.replication_factor} cannot be reached because only 1 broker(s) "
                    "are registered or some brokers have all their log directories cordoned.",
                )
            requested = {c.name: c.value for c in topic.configs}
            configs = node.topics.validate_new_topic(topic.name, partitions, requested)
            if not getattr(request, "validate_only", False):
                created = await node.topics.create_topic_in_slices(topic.name, partitions, configs)
                topic_id = created.topic_id
        except KafkaError as exc:
            error, message = exc.code, exc.message
        ok = error == ErrorCode.none
        results.append(
            make(
                m.CreatableTopicResult,
                name=topic.name,
                topic_id=topic_id,
                error_code=error,
                error_message=message,
                topic_config_error_code=ErrorCode.none,
                num_partitions=partitions if ok else -1,
                replication_factor=1 if ok else -1,
                configs=tuple(
                    make(
                        m.CreatableTopicConfigs,
                        name=e.name,
                        value=e.value,
                        read_only=e.read_only,
                        config_source=e.source,
                        is_sensitive=False,
                    )
                    for e in topic_config_entries(node, configs)
                )
                if ok and ctx.api_version >= 5
                else None,
            )
        )
    return make(m.CreateTopicsResponse, throttle_time=ZERO, topics=tuple(results))
