"""`katka serve`: run the broker in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from katka.broker import Broker
from katka.cli.properties import load_properties
from katka.config import BrokerConfig
from katka.errors import KafkaError
from katka.node import Endpoint
from katka.server.run import serve_forever


@click.command()
@click.option(
    "--listen", default="127.0.0.1:9092", show_default=True, help="HOST:PORT to listen on."
)
@click.option(
    "--advertised-listener", default=None, help="HOST:PORT clients are told to connect to."
)
@click.option(
    "--data-dir", default="./katka-data", show_default=True, type=click.Path(file_okay=False)
)
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Kafka-style properties file of broker configs.",
)
@click.option("-o", "overrides", multiple=True, metavar="NAME=VALUE", help="Set any broker config.")
@click.option(
    "--fsync",
    type=click.Choice(["policy", "always"]),
    default=None,
    help="always: fsync (group-committed) before acknowledging a produce.",
)
@click.option("--log-level", default="INFO", show_default=True)
def serve(
    listen: str,
    advertised_listener: str | None,
    data_dir: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    fsync: str | None,
    log_level: str,
) -> None:
    """Start the broker.

    \b
    Example:
      katka serve --listen 127.0.0.1:9092 --data-dir ./katka-data -o num.partitions=6
    """
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    values: dict[str, str] = {}
    if config_file:
        values.update(load_properties(config_file))
    for item in overrides:
        name, separator, value = item.partition("=")
        if not separator:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="-o")
        values[name.strip()] = value.strip()
    if fsync:
        values["katka.fsync"] = fsync
    try:
        endpoint = Endpoint.parse(listen)
        advertised = Endpoint.parse(advertised_listener) if advertised_listener else None
        config = BrokerConfig(values)
    except (ValueError, KafkaError) as error:
        raise click.UsageError(str(error)) from None
    broker = Broker(config, Path(data_dir), endpoint, advertised)

    def on_ready(ready: Broker, seconds: float) -> None:
        click.echo(
            f"katka ready on {ready.listen} (advertised {ready.advertised_endpoint}), "
            f"data in {data_dir}, started in {seconds * 1000:.0f} ms",
        )
        sys.stdout.flush()

    try:
        serve_forever(broker, on_ready)
    except OSError as error:
        click.echo(f"katka: cannot start: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    serve()
