"""`katka topic create|list|describe|alter|delete|add-partitions`, as kafka-topics.sh and
kafka-configs.sh do them."""

from __future__ import annotations

from typing import Any

import click

from katka.cli.admin_api import optional_admin_api, quote
from katka.cli.common import (
    CliError,
    CliTimeout,
    Connection,
    connection_options,
    emit_json,
    kafka_admin_module,
    parse_pairs,
    plural,
    print_table,
    wait,
)


@click.group()
def topic() -> None:
    """Create, list, describe, grow and delete topics.

    \b
    Example:
      katka topic create orders --partitions 6
      katka topic describe orders
    """


def existing_topics(connection: Connection, admin: Any) -> dict[str, Any]:
    from confluent_kafka import KafkaException

    try:
        metadata = admin.list_topics(timeout=connection.timeout_s)
    except KafkaException as error:
        raise CliError(f"cannot read cluster metadata: {error.args[0].str()}") from None
    return dict(metadata.topics)


def require_topic(connection: Connection, admin: Any, name: str) -> Any:
    topics = existing_topics(connection, admin)
    if name not in topics:
        raise CliError(f"Topic '{name}' does not exist as expected")
    return topics[name]


@topic.command()
@click.argument("name")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Default: the broker's num.partitions.",
)
@click.option("--replication-factor", "-r", type=click.IntRange(min=1), default=None)
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A topic config; repeatable.",
)
@click.option("--if-not-exists", is_flag=True, help="Succeed when the topic already exists.")
@connection_options
def create(
    connection: Connection,
    name: str,
    partitions: int | None,
    replication_factor: int | None,
    configs: tuple[str, ...],
    if_not_exists: bool,
) -> None:
    """Create a topic.

    \b
    Example:
      katka topic create orders --partitions 6 --config retention.ms=86400000
    """
    from confluent_kafka import KafkaError

    names = kafka_admin_module()

    admin = connection.admin()
    new = names.NewTopic(
        name,
        num_partitions=partitions if partitions is not None else -1,
        replication_factor=replication_factor if replication_factor is not None else -1,
        config=parse_pairs(configs, "--config"),
    )
    future = admin.create_topics([new], request_timeout=connection.timeout_s)[name]
    try:
        wait(future, connection.timeout_s, f"cannot create topic '{name}'")
    except CliError as failure:
        if isinstance(failure, CliTimeout) or not future.done():
            did = what_the_broker_did(connection, name)
            raise CliError(f"{failure.message}; {did}") from None
        error = future.exception()
        code = error.args[0].code() if error is not None and error.args else None
        if if_not_exists and code == KafkaError.TOPIC_ALREADY_EXISTS:
            return
        raise
    if connection.json:
        emit_json({"topic": name, "created": True})
    else:
        click.echo(f"Created topic {name}.")


def what_the_broker_did(connection: Connection, name: str) -> str:
    """After a timed-out create: the topic as the broker has it now, so the user never guesses.
    Asked on a new connection: the first one answers in order, after the creation."""
    from confluent_kafka import KafkaException

    try:
        asked = connection.admin().list_topics(timeout=max(connection.timeout_s, 5.0))
        found = asked.topics.get(name)
    except KafkaException:
        return "the broker cannot be asked whether it exists"
    if found is None or found.error is not None:
        return (
            "the broker has not created it (it may still be creating its partitions: "
            f"see `katka topic describe {name}`)"
        )
    return f"the broker created it with {len(found.partitions)} partitions"


@topic.command(name="list")
@click.option("--internal/--no-internal", default=False, help="Include internal topics.")
@connection_options
def list_topics(connection: Connection, internal: bool) -> None:
    """List topics and their partition counts.

    \b
    Example:
      katka topic list --output json
    """
    admin = connection.admin()
    topics = existing_topics(connection, admin)
    names = sorted(n for n in topics if internal or not n.startswith("__"))
    rows = [{"topic": n, "partitions": len(topics[n].partitions)} for n in names]
    if connection.json:
        emit_json(rows)
    else:
        print_table(
            ["TOPIC", "PARTITIONS"],
            [(row["topic"], row["partitions"]) for row in rows],
            right_align=["PARTITIONS"],
        )


def watermarks(
    connection: Connection, admin: Any, topic: str, partitions: list[int]
) -> dict[int, tuple[int, int]]:
    """partition -> (log start offset, log end offset) via ListOffsets."""
    from confluent_kafka import TopicPartition

    spec_type = kafka_admin_module().OffsetSpec

    result: dict[int, tuple[int, int]] = {}
    if not partitions:
        return result
    specs: dict[str, dict[Any, Any]] = {
        "earliest": {TopicPartition(topic, p): spec_type.earliest() for p in partitions},
        "latest": {TopicPartition(topic, p): spec_type.latest() for p in partitions},
    }
    found: dict[str, dict[int, int]] = {}
    for kind, request in specs.items():
        futures = admin.list_offsets(request, request_timeout=connection.timeout_s)
        found[kind] = {
            tp.partition: wait(future, connection.timeout_s, f"list offsets of {topic}").offset
            for tp, future in futures.items()
        }
    for partition in partitions:
        result[partition] = (found["earliest"][partition], found["latest"][partition])
    return result


def topic_configs(connection: Connection, admin: Any, topic: str) -> list[dict[str, Any]]:
    names = kafka_admin_module()
    resource = names.ConfigResource(names.ResourceType.TOPIC, topic)
    futures = admin.describe_configs([resource], request_timeout=connection.timeout_s)
    entries = wait(futures[resource], connection.timeout_s, f"describe configs of {topic}")
    return [
        {
            "name": entry.name,
            "value": entry.value,
            "override": entry.source == names.ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
            "read_only": entry.is_read_only,
        }
        for entry in sorted(entries.values(), key=lambda e: e.name)
    ]


@topic.command()
@click.argument("topic_names", metavar="[TOPIC]...", nargs=-1)
@click.option(
    "--topic", "-t", "topic_options", multiple=True, help="A topic (as kafka-topics.sh takes it)."
)
@click.option("--all-configs", is_flag=True, help="Show every config, not only overrides.")
@click.option("--internal/--no-internal", default=False, help="With no topic named: internal too.")
@connection_options
def describe(
    connection: Connection,
    topic_names: tuple[str, ...],
    topic_options: tuple[str, ...],
    all_configs: bool,
    internal: bool,
) -> None:
    """Partitions (leader, log start and end offsets, records, size) and configs; every topic
    when none is named, as kafka-topics.sh --describe does.

    Sizes come from katka's admin API and are left out against other brokers.

    \b
    Example:
      katka topic describe orders payments
      katka topic describe --topic orders --all-configs
    """
    admin = connection.admin()
    topics = existing_topics(connection, admin)
    names = list(dict.fromkeys([*topic_names, *topic_options]))
    every_topic = not names
    if every_topic:
        names = sorted(n for n in topics if internal or not n.startswith("__"))
    missing = [n for n in names if n not in topics]
    if missing:
        raise CliError(f"Topic '{missing[0]}' does not exist as expected")
    api = optional_admin_api(connection, admin)
    described: list[dict[str, Any]] = []
    for name in names:
        metadata = topics[name]
        partition_ids = sorted(metadata.partitions)
        marks = watermarks(connection, admin, name, partition_ids)
        sizes: dict[int, int] = {}
        cleaning: dict[int, tuple[int, float]] = {}  # compacted: cleaned point, dirty ratio
        if api is not None:
            answer = api.get_extra(f"/api/topics/{quote(name)}")
            for entry in (answer or {}).get("partitions", []):
                sizes[int(entry["partition"])] = int(entry["size_bytes"])
                if "cleaned_point" in entry:
                    cleaning[int(entry["partition"])] = (
                        int(entry["cleaned_point"]),
                        float(entry["dirty_ratio"]),
                    )
        partitions = []
        for partition in partition_ids:
            start, end = marks[partition]
            info = metadata.partitions[partition]
            partitions.append(
                {
                    "partition": partition,
                    "leader": info.leader,
                    "replicas": list(info.replicas),
                    "isr": list(info.isrs),
                    "log_start_offset": start,
                    "log_end_offset": end,
                    "records": max(end - start, 0),
                    "size_bytes": sizes.get(partition),
                }
            )
            if partition in cleaning:
                partitions[-1]["cleaned_point"], partitions[-1]["dirty_ratio"] = cleaning[partition]
        configs = [
            c for c in topic_configs(connection, admin, name) if all_configs or c["override"]
        ]
        described.append(
            {
                "topic": name,
                "partitions": partitions,
                "configs": {c["name"]: c["value"] for c in configs},
            }
        )
    if connection.json:
        # One named topic is an object; several, or every topic, a list.
        emit_json(described[0] if len(described) == 1 and not every_topic else described)
        return
    for index, entry in enumerate(described):
        if index:
            click.echo()
        configs_text = ",".join(f"{k}={v}" for k, v in entry["configs"].items()) or "-"
        click.echo(
            f"Topic: {entry['topic']}\tPartitionCount: {len(entry['partitions'])}\t"
            f"Configs: {configs_text}"
        )
        columns = ["PARTITION", "LEADER", "REPLICAS", "LOG-START", "LOG-END", "RECORDS"]
        with_sizes = any(p["size_bytes"] is not None for p in entry["partitions"])
        if with_sizes:
            columns.append("SIZE")
        compacted = any("cleaned_point" in p for p in entry["partitions"])
        if compacted:
            columns += ["CLEANED-TO", "DIRTY"]
        rows = []
        for p in entry["partitions"]:
            row: list[object] = [
                p["partition"],
                p["leader"],
                ",".join(map(str, p["replicas"])),
                p["log_start_offset"],
                p["log_end_offset"],
                p["records"],
            ]
            if with_sizes:
                row.append(human_bytes(p["size_bytes"]))
            if compacted:
                row.append(p.get("cleaned_point", "-"))
                row.append(f"{p['dirty_ratio']:.0%}" if "dirty_ratio" in p else "-")
            rows.append(row)
        print_table(
            columns,
            rows,
            right_align=[
                "PARTITION",
                "LEADER",
                "LOG-START",
                "LOG-END",
                "RECORDS",
                "SIZE",
                "CLEANED-TO",
            ],
        )


def grow_partitions(connection: Connection, admin: Any, name: str, partitions: int) -> None:
    futures = admin.create_partitions(
        [kafka_admin_module().NewPartitions(name, partitions)], request_timeout=connection.timeout_s
    )
    wait(futures[name], connection.timeout_s, f"cannot add partitions to '{name}'")


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@topic.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--if-exists", is_flag=True, help="Succeed when a topic does not exist.")
@connection_options
def delete(connection: Connection, names: tuple[str, ...], if_exists: bool) -> None:
    """Delete topics.

    \b
    Example:
      katka topic delete orders
    """
    admin = connection.admin()
    topics = existing_topics(connection, admin)
    missing = [n for n in names if n not in topics]
    if missing and not if_exists:
        raise CliError(f"Topic '{missing[0]}' does not exist as expected")
    present = [n for n in names if n in topics]
    if present:
        futures = admin.delete_topics(present, request_timeout=connection.timeout_s)
        for name in present:
            wait(futures[name], connection.timeout_s, f"cannot delete topic '{name}'")
    if connection.json:
        emit_json({"deleted": present})
    else:
        for name in present:
            click.echo(f"Deleted topic {name}.")


@topic.command(name="add-partitions")
@click.argument("name")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    required=True,
    help="The new total partition count.",
)
@connection_options
def add_partitions(connection: Connection, name: str, partitions: int) -> None:
    """Grow a topic to a total of N partitions (kafka-topics.sh --alter --partitions).

    \b
    Example:
      katka topic add-partitions orders --partitions 12
    """
    admin = connection.admin()
    require_topic(connection, admin, name)
    grow_partitions(connection, admin, name, partitions)
    if connection.json:
        emit_json({"topic": name, "partitions": partitions})
    else:
        click.echo(f"Topic {name} now has {plural(partitions, 'partition')}.")


@topic.command()
@click.argument("name")
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a topic config; repeatable.",
)
@click.option(
    "--delete-config",
    "deleted",
    multiple=True,
    metavar="NAME",
    help="Remove an override (back to the broker default); repeatable.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Grow to this total partition count.",
)
@connection_options
def alter(
    connection: Connection,
    name: str,
    configs: tuple[str, ...],
    deleted: tuple[str, ...],
    partitions: int | None,
) -> None:
    """Change a topic's configs (kafka-configs.sh --alter --add-config / --delete-config) or
    grow its partitions (kafka-topics.sh --alter --partitions). Other overrides are kept.

    \b
    Example:
      katka topic alter orders --config retention.ms=3600000 --delete-config segment.ms
      katka topic alter orders --partitions 12
    """
    if not configs and not deleted and partitions is None:
        raise click.UsageError("name a change: --config, --delete-config or --partitions")
    names = kafka_admin_module()
    admin = connection.admin()
    require_topic(connection, admin, name)
    updates = parse_pairs(configs, "--config")
    if updates or deleted:
        entries = [
            names.ConfigEntry(key, value, incremental_operation=names.AlterConfigOpType.SET)
            for key, value in updates.items()
        ] + [
            names.ConfigEntry(key, None, incremental_operation=names.AlterConfigOpType.DELETE)
            for key in deleted
        ]
        resource = names.ConfigResource(names.ResourceType.TOPIC, name, incremental_configs=entries)
        futures = admin.incremental_alter_configs([resource], request_timeout=connection.timeout_s)
        wait(futures[resource], connection.timeout_s, f"cannot alter the configs of '{name}'")
    if partitions is not None:
        grow_partitions(connection, admin, name, partitions)
    if connection.json:
        emit_json(
            {"topic": name, "set": updates, "deleted": list(deleted), "partitions": partitions}
        )
        return
    for key, value in updates.items():
        click.echo(f"Set {key}={value} on topic {name}.")
    for key in deleted:
        click.echo(f"Removed {key} from topic {name}.")
    if partitions is not None:
        click.echo(f"Topic {name} now has {plural(partitions, 'partition')}.")
