"""`katka serve`: run the broker in the foreground until SIGINT/SIGTERM.

Settings come from a Kafka `server.properties` (--config), then `-o NAME=VALUE`, then the
flags; serve_settings.py resolves them and checks every value against Kafka's range, so a bad
one stops the start with one line instead of a traceback or a silent default.
"""

from __future__ import annotations

import logging
import sys

import click

from katka.api import _build
from katka.broker import Broker
from katka.cli.properties import PropertiesError, load_properties
from katka.cli.serve_settings import resolve_settings
from katka.errors import KafkaError
from katka.node import Endpoint
from katka.server.run import serve_forever

log = logging.getLogger("katka.broker")
# The HTTP admin API (rebalance history, lag in time) of `katka serve`, on loopback: it has no
# authentication. Taken (another broker on this host): a free port, named in the ready line.
DEFAULT_ADMIN_LISTENER = "127.0.0.1:9644"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@click.command()
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT to listen on.  [default: 127.0.0.1:9092, or listeners from --config]",
)
@click.option(
    "--advertised-listener", default=None, help="HOST:PORT clients are told to connect to."
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where the logs live.  [default: ./katka-data, or log.dirs from --config]",
)
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="A Kafka server.properties; keys without meaning on one node are listed and ignored.",
)
@click.option("-o", "overrides", multiple=True, metavar="NAME=VALUE", help="Set any broker config.")
@click.option(
    "--fsync",
    type=click.Choice(["policy", "always"]),
    default=None,
    help="always: fsync (group-committed) before acknowledging a produce.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
)
def serve(
    listen: str | None,
    advertised_listener: str | None,
    data_dir: str | None,
    config_file: str | None,
    overrides: tuple[str, ...],
    fsync: str | None,
    log_level: str,
) -> None:
    """Start the broker.

    \b
    Example:
      katka serve --listen 127.0.0.1:9092 --data-dir ./katka-data -o num.partitions=6
      katka serve --config kafka/config/server.properties
    """
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = resolve_settings(
            load_properties(config_file) if config_file else {},
            _parse_overrides(overrides),
            _flag_configs(listen, advertised_listener, data_dir, fsync),
        )
    except (ValueError, KafkaError, PropertiesError) as error:
        raise click.UsageError(str(error)) from None
    for warning in settings.warnings:
        log.warning(warning)
    # make()'s check for misspelt response fields is the tests' (katka/api/_build.py).
    _build.check_field_names = False
    broker = Broker(
        settings.config,
        settings.data_dir,
        settings.listen,
        settings.advertised,
        listeners=settings.listeners,
        listener_configs=settings.listener_configs,
        admin_listener_default=DEFAULT_ADMIN_LISTENER,
    )

    def on_ready(ready: Broker, seconds: float) -> None:
        admin = ready.config.get("katka.admin.listener")
        click.echo(
            f"katka ready on {ready.listen} (advertised {ready.advertised_endpoint}), "
            f"data in {settings.data_dir}, "
            f"admin API {f'http://{admin}' if admin else 'off'}, "
            f"started in {seconds * 1000:.0f} ms",
        )
        for spec in ready.listener_specs[1:]:
            click.echo(f"katka listener {spec.name} ({spec.security_protocol}) on {spec.endpoint}")
        sys.stdout.flush()

    try:
        serve_forever(broker, on_ready)
    except OSError as error:
        click.echo(f"katka: cannot start: {error}", err=True)
        sys.exit(1)


def _parse_overrides(overrides: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in overrides:
        name, separator, value = item.partition("=")
        if not separator:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="-o")
        values[name.strip()] = value.strip()
    return values


def _flag_configs(
    listen: str | None, advertised: str | None, data_dir: str | None, fsync: str | None
) -> dict[str, str]:
    """The flags as the broker configs they set (reported as static configs)."""
    values: dict[str, str] = {}
    if listen is not None:
        values["listeners"] = f"PLAINTEXT://{_checked('--listen', listen)}"
    if advertised is not None:
        values["advertised.listeners"] = (
            f"PLAINTEXT://{_checked('--advertised-listener', advertised)}"
        )
    if data_dir is not None:
        values["log.dirs"] = data_dir
    if fsync is not None:
        values["katka.fsync"] = fsync
    return values


def _checked(flag: str, value: str) -> str:
    try:
        Endpoint.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=flag) from None
    return value


if __name__ == "__main__":
    serve()
