"""`katka transaction list|describe|describe-producers|find-hanging|abort`
(kafka-transactions.sh).

The transactional APIs (ListTransactions, DescribeTransactions, DescribeProducers,
WriteTxnMarkers) are not in confluent-kafka's admin client; these commands use kafka-python's,
so they work against Kafka as well as katka. `-X` options are librdkafka's and do not apply.
"""

from __future__ import annotations

import time
from typing import Any

import click

from katka.cli.common import (
    CliError,
    Connection,
    connection_options,
    emit_json,
    kafka_error_text,
    print_table,
)
from katka.cli.timeparse import format_duration_ms, format_time_ms

OPEN_STATES = ("Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence")
DEFAULT_MAX_TRANSACTION_TIMEOUT_MS = 900_000  # Kafka's transaction.max.timeout.ms


@click.group()
def transaction() -> None:
    """List and inspect transactions; find and abort hanging ones.

    \b
    Example:
      katka transaction list --state Ongoing
      katka transaction describe payments-tx
      katka transaction find-hanging --topic orders
      katka transaction abort --topic orders --partition 0 --start-offset 42
    """


def kafka_admin(connection: Connection) -> Any:
    """kafka-python's admin client, which speaks the transactional admin APIs."""
    connection.check_reachable()
    from kafka.admin import KafkaAdminClient

    try:
        return KafkaAdminClient(
            bootstrap_servers=connection.bootstrap_servers.split(","),
            request_timeout_ms=int(connection.timeout_s * 1000),
            client_id="katka-cli",
        )
    except Exception as error:
        raise CliError(f"cannot connect: {error}") from None


def call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a kafka-python admin call; its errors become one line."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        message = str(error) or type(error).__name__
        raise CliError(f"{what}: {message}") from None


@transaction.command(name="list")
@click.option("--state", "states", multiple=True, help="Only these states (e.g. Ongoing).")
@click.option("--producer-id", "producer_ids", type=int, multiple=True, help="Only these ids.")
@click.option(
    "--duration-ms", type=int, default=None, help="Only transactions open at least this long."
)
@connection_options
def list_transactions(
    connection: Connection,
    states: tuple[str, ...],
    producer_ids: tuple[int, ...],
    duration_ms: int | None,
) -> None:
    """List transactional ids with their producer id and state.

    \b
    Example:
      katka transaction list --state Ongoing --duration-ms 60000
    """
    admin = kafka_admin(connection)
    try:
        listed = call(
            "cannot list transactions",
            admin.list_transactions,
            state_filters=list(states) or None,
            producer_id_filters=list(producer_ids) or None,
            duration_filter_ms=duration_ms,
        )
    finally:
        admin.close()
    rows = sorted(
        (
            {
                "transactional_id": t.transactional_id,
                "producer_id": t.producer_id,
                "state": _state(t.state),
                "coordinator": broker_id,
            }
            for broker_id, listings in listed.items()
            for t in listings
        ),
        key=lambda row: row["transactional_id"],
    )
    if connection.json:
        emit_json(rows)
    else:
        print_table(
            ["TRANSACTIONAL_ID", "COORDINATOR", "PRODUCER_ID", "STATE"],
            [(r["transactional_id"], r["coordinator"], r["producer_id"], r["state"]) for r in rows],
        )


@transaction.command()
@click.argument("transactional_id")
@connection_options
def describe(connection: Connection, transactional_id: str) -> None:
    """Show a transactional id's producer, epoch, state, timeout and partitions.

    \b
    Example:
      katka transaction describe payments-tx
    """
    admin = kafka_admin(connection)
    try:
        described = call(
            f"cannot describe transaction '{transactional_id}'",
            admin.describe_transactions,
            [transactional_id],
        )[transactional_id]
    finally:
        admin.close()
    start_ms = described.transaction_start_time_ms
    row = {
        "transactional_id": transactional_id,
        "coordinator": described.coordinator_id,
        "producer_id": described.producer_id,
        "producer_epoch": described.producer_epoch,
        "state": _state(described.state),
        "timeout_ms": described.transaction_timeout_ms,
        "start_time": format_time_ms(start_ms) if start_ms >= 0 else None,
        "duration": format_duration_ms(_now_ms() - start_ms) if start_ms >= 0 else None,
        "partitions": sorted(f"{tp.topic}-{tp.partition}" for tp in described.topic_partitions),
    }
    if connection.json:
        emit_json(row)
        return
    print_table(
        [
            "COORDINATOR",
            "TRANSACTIONAL_ID",
            "PRODUCER_ID",
            "PRODUCER_EPOCH",
            "STATE",
            "TIMEOUT_MS",
            "START_TIME",
            "DURATION",
            "PARTITIONS",
        ],
        [
            (
                row["coordinator"],
                transactional_id,
                row["producer_id"],
                row["producer_epoch"],
                row["state"],
                row["timeout_ms"],
                row["start_time"],
                row["duration"],
                ",".join(row["partitions"]) or None,
            )
        ],
    )


@transaction.command(name="describe-producers")
@click.option("--topic", required=True)
@click.option("--partition", type=int, required=True)
@connection_options
def describe_producers(connection: Connection, topic: str, partition: int) -> None:
    """Show a partition's active producers and the start offset of their open transaction.

    \b
    Example:
      katka transaction describe-producers --topic orders --partition 0
    """
    rows = _producers(connection, [(topic, partition)])
    if connection.json:
        emit_json(rows)
        return
    print_table(
        ["PRODUCER_ID", "PRODUCER_EPOCH", "LAST_SEQUENCE", "LAST_TIMESTAMP", "START_OFFSET"],
        [
            (
                r["producer_id"],
                r["producer_epoch"],
                r["last_sequence"],
                format_time_ms(r["last_timestamp"]) if r["last_timestamp"] >= 0 else None,
                r["current_transaction_start_offset"]
                if r["current_transaction_start_offset"] >= 0
                else None,
            )
            for r in rows
        ],
    )


@transaction.command(name="find-hanging")
@click.option("--topic", default=None, help="Only this topic (default: every topic).")
@click.option(
    "--max-transaction-timeout",
    "max_timeout_ms",
    type=int,
    default=DEFAULT_MAX_TRANSACTION_TIMEOUT_MS,
    show_default=True,
    help="The brokers' transaction.max.timeout.ms (ms).",
)
@connection_options
def find_hanging(connection: Connection, topic: str | None, max_timeout_ms: int) -> None:
    """Open transactions in partitions that their coordinator no longer runs (or no longer
    includes the partition), older than the maximum transaction timeout: what `abort` is for.

    \b
    Example:
      katka transaction find-hanging --topic orders
    """
    partitions = _partitions(connection, topic)
    open_ones = [
        r for r in _producers(connection, partitions) if r["current_transaction_start_offset"] >= 0
    ]
    now_ms = _now_ms()
    hanging = []
    running = _running_transactions(connection, {r["producer_id"] for r in open_ones})
    for row in open_ones:
        if now_ms - row["last_timestamp"] < max_timeout_ms:
            continue
        coordinator_view = running.get(row["producer_id"])
        if coordinator_view is not None and (row["topic"], row["partition"]) in coordinator_view:
            continue  # the coordinator is still running it: it will end or time out
        row["duration"] = format_duration_ms(now_ms - row["last_timestamp"])
        hanging.append(row)
    if connection.json:
        emit_json(hanging)
        return
    print_table(
        ["TOPIC", "PARTITION", "PRODUCER_ID", "PRODUCER_EPOCH", "START_OFFSET", "DURATION"],
        [
            (
                r["topic"],
                r["partition"],
                r["producer_id"],
                r["producer_epoch"],
                r["current_transaction_start_offset"],
                r["duration"],
            )
            for r in hanging
        ],
    )


@transaction.command()
@click.option("--topic", required=True)
@click.option("--partition", type=int, required=True)
@click.option("--start-offset", type=int, default=None, help="The open transaction's first offset.")
@click.option("--producer-id", type=int, default=None)
@click.option("--producer-epoch", type=int, default=None)
@click.option("--coordinator-epoch", type=int, default=0, show_default=True)
@connection_options
def abort(
    connection: Connection,
    topic: str,
    partition: int,
    start_offset: int | None,
    producer_id: int | None,
    producer_epoch: int | None,
    coordinator_epoch: int,
) -> None:
    """Abort a hanging transaction by writing an ABORT marker into its partition.

    Name it by --start-offset (looked up with describe-producers) or by --producer-id and
    --producer-epoch. Only for hanging transactions: aborting one its producer is still
    running breaks its atomicity, as with kafka-transactions.sh.

    \b
    Example:
      katka transaction abort --topic orders --partition 0 --start-offset 42
    """
    if start_offset is not None:
        matches = [
            r
            for r in _producers(connection, [(topic, partition)])
            if r["current_transaction_start_offset"] == start_offset
        ]
        if not matches:
            raise CliError(
                f"no open transaction starts at offset {start_offset} in {topic}-{partition}"
            )
        producer_id, producer_epoch = matches[0]["producer_id"], matches[0]["producer_epoch"]
    elif producer_id is None or producer_epoch is None:
        raise click.UsageError("give --start-offset, or --producer-id and --producer-epoch")
    from kafka import TopicPartition
    from kafka.admin import AbortTransactionSpec

    admin = kafka_admin(connection)
    try:
        call(
            f"cannot abort the transaction of producer {producer_id} in {topic}-{partition}",
            admin.abort_transaction,
            AbortTransactionSpec(
                TopicPartition(topic, partition), producer_id, producer_epoch, coordinator_epoch
            ),
        )
    finally:
        admin.close()
    if connection.json:
        emit_json({"topic": topic, "partition": partition, "producer_id": producer_id})
    else:
        click.echo(f"aborted the transaction of producer {producer_id} in {topic}-{partition}")


def _partitions(connection: Connection, topic: str | None) -> list[tuple[str, int]]:
    from confluent_kafka import KafkaException

    admin = connection.admin()
    try:
        metadata = admin.list_topics(topic=topic, timeout=connection.timeout_s)
    except KafkaException as error:
        raise CliError(f"cannot list topics: {kafka_error_text(error)}") from None
    if topic is not None and (topic not in metadata.topics or metadata.topics[topic].error):
        raise CliError(f"Topic '{topic}' does not exist.")
    return sorted(
        (name, partition)
        for name, described in metadata.topics.items()
        if not name.startswith("__")
        for partition in described.partitions
    )


def _producers(connection: Connection, partitions: list[tuple[str, int]]) -> list[dict[str, Any]]:
    from kafka import TopicPartition

    if not partitions:
        return []
    admin = kafka_admin(connection)
    try:
        described = call(
            "cannot describe producers",
            admin.describe_producers,
            [TopicPartition(t, p) for t, p in partitions],
        )
    finally:
        admin.close()
    rows = []
    for tp, state in sorted(described.items(), key=lambda item: (item[0].topic, item[0].partition)):
        for producer in state.active_producers:
            rows.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "producer_id": producer.producer_id,
                    "producer_epoch": producer.producer_epoch,
                    "last_sequence": producer.last_sequence,
                    "last_timestamp": producer.last_timestamp,
                    "current_transaction_start_offset": producer.current_transaction_start_offset,
                }
            )
    return rows


def _running_transactions(
    connection: Connection, producer_ids: set[int]
) -> dict[int, set[tuple[str, int]]]:
    """Producer id -> partitions of the transaction its coordinator has open."""
    if not producer_ids:
        return {}
    admin = kafka_admin(connection)
    try:
        listed = call(
            "cannot list transactions",
            admin.list_transactions,
            producer_id_filters=sorted(producer_ids),
            state_filters=list(OPEN_STATES),
        )
        ids = sorted({t.transactional_id for ts in listed.values() for t in ts})
        described = call("cannot describe transactions", admin.describe_transactions, ids)
    finally:
        admin.close()
    return {
        d.producer_id: {(tp.topic, tp.partition) for tp in d.topic_partitions}
        for d in described.values()
    }


def _state(state: Any) -> str:
    return str(getattr(state, "value", state))


def _now_ms() -> int:
    return int(time.time() * 1000)
