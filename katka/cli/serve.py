"""`katka serve`: run the broker in the foreground until SIGINT/SIGTERM.

Settings come from a Kafka `server.properties` (--config), then `-o NAME=VALUE`, then the
flags; serve_settings.py resolves them and checks every value against Kafka's range, so a bad
one stops the start with one line instead of a traceback or a silent default. This is the
command's usage and error reporting; serving.py runs it (and reads plain arguments without
click when `python -m katka serve` starts).
"""

from __future__ import annotations

import click

from katka.cli.serving import (
    FSYNC_CHOICES,
    LOG_LEVELS,
    ServeArguments,
    ServeUsageError,
    parse_overrides,
    serve_with,
)
from katka.node import Endpoint


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
    type=click.Choice(FSYNC_CHOICES),
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
    try:
        parse_overrides(overrides)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="-o") from None
    _checked("--listen", listen)
    _checked("--advertised-listener", advertised_listener)
    try:
        serve_with(
            ServeArguments(
                listen, advertised_listener, data_dir, config_file, overrides, fsync, log_level
            )
        )
    except ServeUsageError as error:
        raise click.UsageError(str(error)) from None


def _checked(flag: str, value: str | None) -> None:
    if value is None:
        return
    try:
        Endpoint.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=flag) from None


if __name__ == "__main__":
    serve()
