"""Kafka's topic configs that katka knows. A topic config unset on the topic takes its broker
synonym's value (retention.ms -> log.retention.ms), so DescribeConfigs can say where each value
comes from; the few without a broker synonym have their own default."""

from __future__ import annotations

from katka.config.broker_configs import (
    CLEANUP_POLICIES,
    COMPRESSION_TYPES,
    SEGMENT_BYTES_MIN,
)
from katka.config.definitions import (
    BOOLEAN,
    DOUBLE,
    INT,
    LIST,
    LONG,
    LONG_MAX,
    STRING,
    AtLeast,
    Between,
    ConfigDef,
    OneOf,
    Synonym,
    by_name,
)


def _from(broker_name: str) -> tuple[Synonym, ...]:
    return (Synonym(broker_name),)


TOPIC_CONFIGS: dict[str, ConfigDef] = by_name(
    [
        ConfigDef(
            "cleanup.policy",
            LIST,
            None,
            CLEANUP_POLICIES,
            synonyms=_from("log.cleanup.policy"),
        ),
        ConfigDef(
            "compression.type", STRING, None, COMPRESSION_TYPES, synonyms=_from("compression.type")
        ),
        ConfigDef("retention.ms", LONG, None, AtLeast(-1), synonyms=_from("log.retention.ms")),
        ConfigDef("retention.bytes", LONG, None, synonyms=_from("log.retention.bytes")),
        ConfigDef(
            "segment.bytes", INT, None, SEGMENT_BYTES_MIN, synonyms=_from("log.segment.bytes")
        ),
        ConfigDef("segment.ms", LONG, None, AtLeast(1), synonyms=_from("log.roll.ms")),
        ConfigDef(
            "segment.index.bytes", INT, None, AtLeast(4), synonyms=_from("log.index.size.max.bytes")
        ),
        ConfigDef(
            "index.interval.bytes",
            INT,
            None,
            AtLeast(0),
            synonyms=_from("log.index.interval.bytes"),
        ),
        ConfigDef("max.message.bytes", INT, None, AtLeast(0), synonyms=_from("message.max.bytes")),
        ConfigDef(
            "message.timestamp.type",
            STRING,
            None,
            OneOf(("CreateTime", "LogAppendTime")),
            synonyms=_from("log.message.timestamp.type"),
        ),
        ConfigDef(
            "flush.messages", LONG, None, AtLeast(1), synonyms=_from("log.flush.interval.messages")
        ),
        ConfigDef("flush.ms", LONG, None, AtLeast(0), synonyms=_from("log.flush.interval.ms")),
        ConfigDef(
            "file.delete.delay.ms",
            LONG,
            None,
            AtLeast(0),
            synonyms=_from("log.segment.delete.delay.ms"),
        ),
        ConfigDef(
            "min.insync.replicas", INT, None, AtLeast(1), synonyms=_from("min.insync.replicas")
        ),
        ConfigDef("unclean.leader.election.enable", BOOLEAN, "false"),
        ConfigDef(
            "message.timestamp.before.max.ms",
            LONG,
            None,
            AtLeast(0),
            synonyms=_from("log.message.timestamp.before.max.ms"),
        ),
        ConfigDef(
            "message.timestamp.after.max.ms",
            LONG,
            None,
            AtLeast(0),
            synonyms=_from("log.message.timestamp.after.max.ms"),
        ),
        ConfigDef(
            "min.compaction.lag.ms",
            LONG,
            None,
            AtLeast(0),
            synonyms=_from("log.cleaner.min.compaction.lag.ms"),
        ),
        ConfigDef(
            "max.compaction.lag.ms",
            LONG,
            None,
            AtLeast(1),
            synonyms=_from("log.cleaner.max.compaction.lag.ms"),
        ),
        ConfigDef(
            "delete.retention.ms",
            LONG,
            None,
            AtLeast(0),
            synonyms=_from("log.cleaner.delete.retention.ms"),
        ),
        ConfigDef(
            "min.cleanable.dirty.ratio",
            DOUBLE,
            None,
            Between(0, 1),
            synonyms=_from("log.cleaner.min.cleanable.ratio"),
        ),
        ConfigDef("preallocate", BOOLEAN, "false"),
        # Kafka topic configs katka accepts and keeps but that change nothing on one node without
        # tiered storage or down-conversion (refusing them would break tools that set them).
        ConfigDef("message.format.version", STRING, "3.0-IV1"),
        ConfigDef("message.downconversion.enable", BOOLEAN, "true"),
        ConfigDef("message.timestamp.difference.max.ms", LONG, str(LONG_MAX), AtLeast(0)),
        ConfigDef("leader.replication.throttled.replicas", LIST, ""),
        ConfigDef("follower.replication.throttled.replicas", LIST, ""),
        ConfigDef("remote.storage.enable", BOOLEAN, "false"),
        ConfigDef("local.retention.ms", LONG, "-2", AtLeast(-2)),
        ConfigDef("local.retention.bytes", LONG, "-2", AtLeast(-2)),
    ]
)
