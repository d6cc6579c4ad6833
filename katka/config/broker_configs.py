"""Kafka's broker configs that katka knows: names, types, defaults and valid ranges as Kafka 4
defines them. Where katka differs (a default, a narrower range), the entry says why.

Unset configs with synonyms take their value from them, as Kafka's do: log.retention.ms from
log.retention.minutes, then log.retention.hours.
"""

from __future__ import annotations

from katka.config.definitions import (
    BOOLEAN,
    DOUBLE,
    INT,
    INT_MAX,
    LIST,
    LONG,
    LONG_MAX,
    PASSWORD,
    SHORT,
    STRING,
    AtLeast,
    Between,
    ConfigDef,
    OneOf,
    Synonym,
    by_name,
)

HOUR_MS = 3_600_000
COMPRESSION_TYPES = OneOf(("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"))
# Kafka 4 refuses segments under 1 MiB; katka keeps the older floor (a v0 record's overhead)
# because its crash and retention tests need segments of a few KiB.
SEGMENT_BYTES_MIN = AtLeast(14)
CLEANUP_POLICIES = OneOf(("compact", "delete"))  # any subset, the empty list included


BROKER_CONFIGS: dict[str, ConfigDef] = by_name(
    [
        # --- identity, listeners and data directory (decided at start) ---------------------
        ConfigDef("node.id", INT, "1", AtLeast(0), read_only=True),
        ConfigDef("broker.id", INT, "1", read_only=True),
        ConfigDef("listeners", LIST, "PLAINTEXT://127.0.0.1:9092", read_only=True),
        ConfigDef(
            "advertised.listeners",
            LIST,
            None,
            read_only=True,
            synonyms=(Synonym("listeners"),),
        ),
        ConfigDef(
            "listener.security.protocol.map",
            STRING,
            "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
            read_only=True,
        ),
        ConfigDef("log.dirs", LIST, None, read_only=True, synonyms=(Synonym("log.dir"),)),
        ConfigDef("log.dir", LIST, "./katka-data", read_only=True),
        # katka's: the HTTP admin API's HOST:PORT ("none": off); reported as bound.
        ConfigDef("katka.admin.listener", STRING, "", read_only=True),
        # katka's: "always" fsyncs (group-committed) before acknowledging a produce.
        ConfigDef("katka.fsync", STRING, "policy", OneOf(("policy", "always")), read_only=True),
        # --- topics -------------------------------------------------------------------------
        ConfigDef("num.partitions", INT, "1", AtLeast(1)),
        ConfigDef("auto.create.topics.enable", BOOLEAN, "true"),
        ConfigDef("delete.topic.enable", BOOLEAN, "true"),
        ConfigDef("message.max.bytes", INT, "1048588", AtLeast(0)),
        ConfigDef("compression.type", STRING, "producer", COMPRESSION_TYPES),
        ConfigDef("min.insync.replicas", INT, "1", AtLeast(1)),
        # katka's: partitions one CreateTopics/CreatePartitions may add (Kafka's controller
        # has the same fixed limit), and partitions the broker may hold in all (KIP-578's idea).
        ConfigDef("katka.max.partitions.per.request", INT, "10000", AtLeast(1)),
        ConfigDef("katka.max.broker.partitions", INT, "100000", AtLeast(1)),
        # --- requests and connections -------------------------------------------------------
        ConfigDef("socket.request.max.bytes", INT, "104857600", AtLeast(1), read_only=True),
        ConfigDef("queued.max.requests", INT, "500", AtLeast(1), read_only=True),
        ConfigDef("max.request.partition.size.limit", INT, "2000", AtLeast(1)),
        ConfigDef("quota.window.num", INT, "11", AtLeast(1), read_only=True),
        ConfigDef("quota.window.size.seconds", INT, "1", AtLeast(1), read_only=True),
        # katka's: encoded replies a connection may hold for a client that is not reading.
        ConfigDef(
            "katka.connection.max.buffered.bytes",
            INT,
            str(16 * 1024 * 1024),
            AtLeast(1),
            read_only=True,
        ),
        ConfigDef("max.connections", INT, str(INT_MAX), AtLeast(0)),
        # KIP-227: how many incremental fetch sessions the broker keeps (0: none).
        ConfigDef(
            "max.incremental.fetch.session.cache.slots", INT, "1000", AtLeast(0), read_only=True
        ),
        ConfigDef("max.connections.per.ip", INT, str(INT_MAX), AtLeast(0)),
        # --- logs ---------------------------------------------------------------------------
        ConfigDef("log.segment.bytes", INT, "1073741824", SEGMENT_BYTES_MIN),
        ConfigDef("log.roll.ms", LONG, None, synonyms=(Synonym("log.roll.hours", HOUR_MS),)),
        ConfigDef("log.roll.hours", INT, "168", AtLeast(1)),
        ConfigDef(
            "log.retention.ms",
            LONG,
            None,
            synonyms=(
                Synonym("log.retention.minutes", 60_000),
                Synonym("log.retention.hours", HOUR_MS),
            ),
        ),
        ConfigDef("log.retention.minutes", INT, None),
        ConfigDef("log.retention.hours", INT, "168"),
        ConfigDef("log.retention.bytes", LONG, "-1"),
        ConfigDef("log.retention.check.interval.ms", LONG, "300000", AtLeast(1)),
        ConfigDef("log.index.interval.bytes", INT, "4096", AtLeast(0)),
        ConfigDef("log.index.size.max.bytes", INT, "10485760", AtLeast(4)),
        ConfigDef("log.flush.interval.messages", LONG, str(LONG_MAX), AtLeast(1)),
        ConfigDef(
            "log.flush.interval.ms",
            LONG,
            None,
            synonyms=(Synonym("log.flush.scheduler.interval.ms"),),
        ),
        ConfigDef("log.flush.scheduler.interval.ms", LONG, str(LONG_MAX)),
        ConfigDef(
            "log.message.timestamp.type",
            STRING,
            "CreateTime",
            OneOf(("CreateTime", "LogAppendTime")),
        ),
        # KIP-937: how far a record's CreateTime may be behind / ahead of the broker's clock
        # (Kafka 4 refuses records more than an hour ahead by default).
        ConfigDef("log.message.timestamp.before.max.ms", LONG, str(LONG_MAX), AtLeast(0)),
        ConfigDef("log.message.timestamp.after.max.ms", LONG, "3600000", AtLeast(0)),
        ConfigDef("log.cleanup.policy", LIST, "delete", CLEANUP_POLICIES),
        # --- the log cleaner (compaction, storage/cleaner/) -----------------------------------
        ConfigDef("log.cleaner.enable", BOOLEAN, "true", read_only=True),
        ConfigDef("log.cleaner.backoff.ms", LONG, "15000", AtLeast(0)),
        ConfigDef("log.cleaner.dedupe.buffer.size", LONG, "134217728"),
        ConfigDef("log.cleaner.io.max.bytes.per.second", DOUBLE, "1.7976931348623157E308"),
        ConfigDef("log.cleaner.min.cleanable.ratio", DOUBLE, "0.5", Between(0, 1)),
        ConfigDef("log.cleaner.min.compaction.lag.ms", LONG, "0", AtLeast(0)),
        ConfigDef("log.cleaner.max.compaction.lag.ms", LONG, str(LONG_MAX), AtLeast(1)),
        ConfigDef("log.cleaner.delete.retention.ms", LONG, "86400000", AtLeast(0)),
        ConfigDef("log.segment.delete.delay.ms", LONG, "60000", AtLeast(0)),
        # --- groups and offsets -------------------------------------------------------------
        ConfigDef("group.initial.rebalance.delay.ms", INT, "3000"),
        ConfigDef("group.min.session.timeout.ms", INT, "6000"),
        ConfigDef("group.max.session.timeout.ms", INT, "1800000"),
        ConfigDef("group.max.size", INT, str(INT_MAX), AtLeast(1)),
        # KIP-848 consumer groups: static, as in Kafka; checked together by groups.py.
        ConfigDef(
            "group.coordinator.rebalance.protocols",
            LIST,
            "classic,consumer",
            OneOf(("classic", "consumer")),
            why="katka has classic and consumer groups",
            read_only=True,
        ),
        ConfigDef("group.consumer.session.timeout.ms", INT, "45000", AtLeast(1), read_only=True),
        # Share groups (KIP-932): group-level defaults (groups override some, see config/share.py).
        ConfigDef("group.share.session.timeout.ms", INT, "45000", AtLeast(1), read_only=True),
        ConfigDef("group.share.heartbeat.interval.ms", INT, "5000", AtLeast(1), read_only=True),
        ConfigDef(
            "group.share.record.lock.duration.ms",
            INT,
            "30000",
            Between(1000, 3_600_000),
            read_only=True,
        ),
        # A group's share.record.lock.duration.ms must lie between these two (as in Kafka).
        ConfigDef(
            "group.share.min.record.lock.duration.ms",
            INT,
            "15000",
            Between(1000, 30_000),
            read_only=True,
        ),
        ConfigDef(
            "group.share.max.record.lock.duration.ms",
            INT,
            "60000",
            Between(30_000, 3_600_000),
            read_only=True,
        ),
        ConfigDef("group.share.delivery.count.limit", INT, "5", Between(2, 10), read_only=True),
        ConfigDef(
            "group.share.partition.max.record.locks",
            INT,
            "2000",
            Between(100, 10_000),
            read_only=True,
        ),
        ConfigDef(
            "group.consumer.min.session.timeout.ms", INT, "45000", AtLeast(1), read_only=True
        ),
        ConfigDef(
            "group.consumer.max.session.timeout.ms", INT, "60000", AtLeast(1), read_only=True
        ),
        ConfigDef("group.consumer.heartbeat.interval.ms", INT, "5000", AtLeast(1), read_only=True),
        ConfigDef(
            "group.consumer.min.heartbeat.interval.ms", INT, "5000", AtLeast(1), read_only=True
        ),
        ConfigDef(
            "group.consumer.max.heartbeat.interval.ms", INT, "15000", AtLeast(1), read_only=True
        ),
        ConfigDef("group.consumer.max.size", INT, str(INT_MAX), AtLeast(1), read_only=True),
        ConfigDef(
            "group.consumer.assignors",
            LIST,
            "uniform,range",
            OneOf(("uniform", "range")),
            why="katka has no pluggable assignors",
            read_only=True,
        ),
        ConfigDef("offsets.retention.minutes", INT, "10080", AtLeast(1)),
        ConfigDef("offsets.retention.check.interval.ms", LONG, "600000", AtLeast(1)),
        ConfigDef("offset.metadata.max.bytes", INT, "4096"),
        ConfigDef("transactional.id.expiration.ms", INT, "604800000", AtLeast(1)),
        ConfigDef("producer.id.expiration.ms", INT, "86400000", AtLeast(1)),
        ConfigDef("transaction.max.timeout.ms", INT, "900000", AtLeast(1), read_only=True),
        ConfigDef(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            INT,
            "10000",
            AtLeast(1),
            read_only=True,
        ),
        # --- security (katka/security/); per listener also as listener.name.<l>.<name> ------
        ConfigDef("ssl.keystore.type", STRING, "JKS", read_only=True),
        ConfigDef("ssl.keystore.location", STRING, None, read_only=True),
        ConfigDef("ssl.keystore.password", PASSWORD, None, read_only=True),
        ConfigDef("ssl.key.password", PASSWORD, None, read_only=True),
        ConfigDef("ssl.keystore.certificate.chain", PASSWORD, None, read_only=True),
        ConfigDef("ssl.keystore.key", PASSWORD, None, read_only=True),
        ConfigDef("ssl.truststore.type", STRING, "JKS", read_only=True),
        ConfigDef("ssl.truststore.location", STRING, None, read_only=True),
        ConfigDef("ssl.truststore.password", PASSWORD, None, read_only=True),
        ConfigDef("ssl.truststore.certificates", PASSWORD, None, read_only=True),
        ConfigDef(
            "ssl.client.auth",
            STRING,
            "none",
            OneOf(("required", "requested", "none")),
            read_only=True,
        ),
        ConfigDef("ssl.enabled.protocols", LIST, "TLSv1.2,TLSv1.3", read_only=True),
        ConfigDef("ssl.protocol", STRING, "TLSv1.3", read_only=True),
        ConfigDef("ssl.principal.mapping.rules", STRING, "DEFAULT", read_only=True),
        ConfigDef("ssl.endpoint.identification.algorithm", STRING, "https", read_only=True),
        ConfigDef("sasl.enabled.mechanisms", LIST, "GSSAPI", read_only=True),
        ConfigDef("sasl.mechanism.inter.broker.protocol", STRING, "GSSAPI", read_only=True),
        ConfigDef("connection.failed.authentication.delay.ms", INT, "100", AtLeast(0)),
        ConfigDef("connections.max.reauth.ms", LONG, "0", read_only=True),
        ConfigDef("authorizer.class.name", STRING, "", read_only=True),
        ConfigDef("super.users", STRING, None, read_only=True),
        ConfigDef("allow.everyone.if.no.acl.found", BOOLEAN, "false", read_only=True),
        # --- accepted, validated and reported, but meaning nothing on one katka node --------
        # KRaft roles and quorum: katka is its own controller.
        ConfigDef(
            "process.roles",
            LIST,
            None,
            OneOf(("broker", "controller")),
            read_only=True,
            ignored=True,
        ),
        ConfigDef("controller.quorum.voters", LIST, "", read_only=True, ignored=True),
        ConfigDef("controller.quorum.bootstrap.servers", LIST, "", read_only=True, ignored=True),
        # Listeners named here are the quorum's: katka does not open them.
        ConfigDef("controller.listener.names", LIST, None, read_only=True, ignored=True),
        ConfigDef("inter.broker.listener.name", STRING, None, read_only=True, ignored=True),
        ConfigDef("metadata.log.dir", STRING, None, read_only=True, ignored=True),
        # Replication: one node holds the only replica (Kafka's defaults assume three).
        # Replication throttles (dynamic): kafka-reassign-partitions --verify and --cancel clear
        # them on every broker; nothing is replicated on one node, so none throttles anything.
        *(
            ConfigDef(name, LONG, str(LONG_MAX), AtLeast(0), ignored=True)
            for name in (
                "leader.replication.throttled.rate",
                "follower.replication.throttled.rate",
                "replica.alter.log.dirs.io.max.bytes.per.second",
            )
        ),
        ConfigDef("default.replication.factor", INT, "1", AtLeast(1), read_only=True, ignored=True),
        ConfigDef(
            "offsets.topic.replication.factor", SHORT, "1", AtLeast(1), read_only=True, ignored=True
        ),
        ConfigDef(
            "offsets.topic.num.partitions", INT, "1", AtLeast(1), read_only=True, ignored=True
        ),
        ConfigDef(
            "transaction.state.log.replication.factor",
            SHORT,
            "1",
            AtLeast(1),
            read_only=True,
            ignored=True,
        ),
        ConfigDef(
            "transaction.state.log.min.isr", INT, "1", AtLeast(1), read_only=True, ignored=True
        ),
        ConfigDef(
            "transaction.state.log.num.partitions",
            INT,
            "1",
            AtLeast(1),
            read_only=True,
            ignored=True,
        ),
        ConfigDef(
            "share.coordinator.state.topic.replication.factor",
            SHORT,
            "1",
            AtLeast(1),
            read_only=True,
            ignored=True,
        ),
        ConfigDef(
            "share.coordinator.state.topic.min.isr",
            SHORT,
            "1",
            AtLeast(1),
            read_only=True,
            ignored=True,
        ),
        ConfigDef(
            "share.coordinator.state.topic.num.partitions",
            INT,
            "1",
            AtLeast(1),
            read_only=True,
            ignored=True,
        ),
        ConfigDef("num.replica.fetchers", INT, "1", AtLeast(1), ignored=True),
        ConfigDef("replica.lag.time.max.ms", LONG, "30000", read_only=True, ignored=True),
        ConfigDef("unclean.leader.election.enable", BOOLEAN, "false", ignored=True),
        ConfigDef("auto.leader.rebalance.enable", BOOLEAN, "true", read_only=True, ignored=True),
        ConfigDef("controlled.shutdown.enable", BOOLEAN, "true", read_only=True, ignored=True),
        ConfigDef("broker.rack", STRING, None, read_only=True, ignored=True),
        # Thread pools and socket buffers: katka is one event loop with the OS's buffers.
        ConfigDef("num.network.threads", INT, "3", AtLeast(1), ignored=True),
        ConfigDef("num.io.threads", INT, "8", AtLeast(1), ignored=True),
        ConfigDef("num.recovery.threads.per.data.dir", INT, "2", AtLeast(1), ignored=True),
        ConfigDef("background.threads", INT, "10", AtLeast(1), ignored=True),
        ConfigDef("log.cleaner.threads", INT, "1", AtLeast(0), ignored=True),
        ConfigDef("socket.send.buffer.bytes", INT, "102400", read_only=True, ignored=True),
        ConfigDef("socket.receive.buffer.bytes", INT, "102400", read_only=True, ignored=True),
        # Security katka does not have: stored so tools that alter it succeed.
        ConfigDef("sasl.kerberos.min.time.before.relogin", LONG, "60000", ignored=True),
    ]
)
