"""`katka console`: the console and /metrics of katka's admin listener, for any Kafka cluster."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from katka.admin.server import AdminHttpServer
from katka.cli.common import CliError, Connection, connection_options
from katka.cli.console.kafka_source import KafkaSource
from katka.cli.console.poller import KafkaPoller


@click.command()
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the console and /metrics answer (port 0: any free port).",
)
@click.option(
    "--poll-interval",
    "poll_interval_s",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between two looks at the cluster (rebalances are seen to within this).",
)
@connection_options
def console(connection: Connection, listen: str, poll_interval_s: float) -> None:
    """Serve katka's console and /metrics for any Kafka cluster.

    Topics, partitions, sizes and offsets, groups with their members and assignments, lag in
    records and in time (the age of the next unconsumed record, read from the log), and a
    rebalance history from observing generations over time (classic groups: the records Kafka
    writes to __consumer_offsets; every group: polls): the pages a katka broker serves on its
    admin listener, from what the Kafka protocol gives. The page says which katka-only views
    are missing. Resets of offsets work as Kafka allows them: on inactive groups.

    \b
    Example:
      katka console --bootstrap-server kafka1:9092 --listen 127.0.0.1:8080
    """
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{listen!r}: expected HOST:PORT", param_hint="--listen")
    logging.basicConfig(level=logging.WARNING, format="katka console: %(message)s")
    source = KafkaSource(KafkaPoller(connection), poll_interval_s)
    try:
        source.start()
    except RuntimeError as error:
        raise CliError(
            f"cannot read the cluster at {connection.bootstrap_servers}: {error}"
        ) from None
    try:
        asyncio.run(_serve(source, host.strip("[]"), int(port)))
    finally:
        source.stop()


async def _serve(source: KafkaSource, host: str, port: int) -> None:
    server = AdminHttpServer(source)
    try:
        bound_host, bound_port = await server.start(host, port)
    except OSError as error:
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    click.echo(
        f"katka console for {source.poller.connection.bootstrap_servers} at "
        f"http://{bound_host}:{bound_port}/ (metrics: /metrics)",
        err=True,
    )
    stopping = asyncio.Event()
    # SIGTERM (a service manager) stops as Ctrl-C does: the poller's consumers close cleanly.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
    finally:
        await server.stop()
