"""What `katka serve` does once its arguments are read, without click.

`python -m katka serve` with plain arguments (the way a service manager, a container or a test
starts a broker) is read here and runs without importing click, about a tenth of the CPU a
broker spends before its first answer. Anything else (--help, a bad value, a flag this reader
does not know) goes through the click command in serve.py, which gives the usage and the
errors; both run `serve_with`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("katka.broker")
# The HTTP admin API (rebalance history, lag in time) of `katka serve`, on loopback: it has no
# authentication. Taken (another broker on this host): a free port, named in the ready line.
DEFAULT_ADMIN_LISTENER = "127.0.0.1:9644"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FSYNC_CHOICES = ("policy", "always")


class ServeUsageError(Exception):
    """A setting that stops the start, said in one line."""


@dataclass
class ServeArguments:
    listen: str | None = None
    advertised_listener: str | None = None
    data_dir: str | None = None
    config_file: str | None = None
    overrides: tuple[str, ...] = ()
    fsync: str | None = None
    log_level: str = "INFO"


_VALUED = {
    "--listen": "listen",
    "--advertised-listener": "advertised_listener",
    "--data-dir": "data_dir",
    "--config": "config_file",
    "-o": "overrides",
    "--fsync": "fsync",
    "--log-level": "log_level",
}


def plain_serve_arguments(argv: Sequence[str]) -> ServeArguments | None:
    """`serve` and its options in the plain forms (`--flag value`, `--flag=value`, `-o N=V`),
    every value one click would accept; None for anything else (click then reads it)."""
    if not argv or argv[0] != "serve":
        return None
    arguments = ServeArguments()
    overrides: list[str] = []
    rest = list(argv[1:])
    while rest:
        token = rest.pop(0)
        flag, equals, value = token.partition("=")
        if flag not in _VALUED or (flag == "-o" and equals):
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if value.startswith("-") and not equals:
            return None  # click's reading of `--listen -o` differs: let it decide
        name = _VALUED[flag]
        if name == "overrides":
            if "=" not in value:
                return None
            overrides.append(value)
        else:
            setattr(arguments, name, value)
    arguments.overrides = tuple(overrides)
    if arguments.fsync is not None and arguments.fsync not in FSYNC_CHOICES:
        return None
    if arguments.log_level.upper() not in LOG_LEVELS:
        return None
    config = arguments.config_file
    if config is not None and not (os.path.isfile(config) and os.access(config, os.R_OK)):
        return None
    if arguments.data_dir is not None and os.path.isfile(arguments.data_dir):
        return None
    return arguments


def parse_overrides(overrides: Sequence[str]) -> dict[str, str]:
    """`-o NAME=VALUE` as configs; ValueError names the one without `=`."""
    values: dict[str, str] = {}
    for item in overrides:
        name, separator, value = item.partition("=")
        if not separator:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    return values


def flag_configs(
    listen: str | None, advertised: str | None, data_dir: str | None, fsync: str | None
) -> dict[str, str]:
    """The flags as the broker configs they set (reported as static configs). ValueError
    names the flag whose address is not HOST:PORT."""
    from katka.node import Endpoint

    values: dict[str, str] = {}
    for flag, address in (("--listen", listen), ("--advertised-listener", advertised)):
        if address is not None:
            try:
                Endpoint.parse(address)
            except ValueError as error:
                raise ValueError(f"{flag}: {error}") from None
    if listen is not None:
        values["listeners"] = f"PLAINTEXT://{listen}"
    if advertised is not None:
        values["advertised.listeners"] = f"PLAINTEXT://{advertised}"
    if data_dir is not None:
        values["log.dirs"] = data_dir
    if fsync is not None:
        values["katka.fsync"] = fsync
    return values


def serve_with(arguments: ServeArguments) -> None:
    """Resolve the settings, then serve until SIGINT/SIGTERM. ServeUsageError: a setting is
    wrong (nothing was opened); SystemExit(1): the listener could not be opened."""
    from katka.cli.properties import PropertiesError, load_properties
    from katka.cli.serve_settings import resolve_settings
    from katka.errors import KafkaError

    logging.basicConfig(
        level=arguments.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = resolve_settings(
            load_properties(arguments.config_file) if arguments.config_file else {},
            parse_overrides(arguments.overrides),
            flag_configs(
                arguments.listen, arguments.advertised_listener, arguments.data_dir, arguments.fsync
            ),
        )
    except (ValueError, KafkaError, PropertiesError) as error:
        raise ServeUsageError(str(error)) from None
    for warning in settings.warnings:
        log.warning(warning)

    from katka.api import _build
    from katka.broker import Broker
    from katka.server.run import serve_forever

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
        print(
            f"katka ready on {ready.listen} (advertised {ready.advertised_endpoint}), "
            f"data in {settings.data_dir}, "
            f"admin API {f'http://{admin}' if admin else 'off'}, "
            f"started in {seconds * 1000:.0f} ms",
        )
        for spec in ready.listener_specs[1:]:
            print(f"katka listener {spec.name} ({spec.security_protocol}) on {spec.endpoint}")
        sys.stdout.flush()

    try:
        serve_forever(broker, on_ready)
    except OSError as error:
        print(f"katka: cannot start: {error}", file=sys.stderr)
        sys.exit(1)
