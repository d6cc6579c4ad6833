"""What every client command shares: connection options, clients with short timeouts, output
as a table or JSON, and errors as one line on stderr with a non-zero exit code.

Commands talk Kafka through confluent-kafka, so they work against Kafka as well as katka.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
CONNECT_TIMEOUT_S = 3.0


class CliError(click.ClickException):
    """A failure the user can act on; printed as one line, exit code 1."""

    exit_code = 1


class CliTimeout(CliError):
    """The broker did not answer in time: what it did is unknown to the client."""


@dataclass
class Connection:
    """The connection options of one command invocation."""

    bootstrap_servers: str
    output: str = "table"
    timeout_s: float = 10.0
    admin_url: str | None = None
    client_configs: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def base_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "socket.connection.setup.timeout.ms": int(CONNECT_TIMEOUT_S * 1000),
            "log_level": 0,  # librdkafka's own log lines would break the one-line error rule
        }
        config.update(self.client_configs)
        return config

    def admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        self.check_reachable()
        return AdminClient(self.base_config())

    def consumer(self, group_id: str | None = None, **configs: Any) -> Any:
        from confluent_kafka import Consumer

        self.check_reachable()
        config = self.base_config()
        config.update(
            {
                # librdkafka needs a group id even for assign(); it never joins without subscribe().
                "group.id": group_id or "katka-cli",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        config.update(configs)
        return Consumer(config)

    def producer(self, **configs: Any) -> Any:
        from confluent_kafka import Producer

        self.check_reachable()
        config = self.base_config()
        config.update(configs)
        return Producer(config)

    def check_reachable(self) -> None:
        """Fail fast, with the reason, when no bootstrap server accepts a TCP connection.

        librdkafka retries unreachable brokers until a request times out, which would make a
        typo in --bootstrap-server look like a hang."""
        if getattr(self, "_reachable", False):
            return
        errors = []
        for server in self.bootstrap_servers.split(","):
            address = server.strip()
            if "://" in address:
                address = address.split("://", 1)[1]
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise CliError(f"invalid --bootstrap-server {server!r}: expected HOST:PORT")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
                    self._reachable = True
                    return
            except OSError as error:
                errors.append(f"{address}: {error.strerror or error}")
        raise CliError(f"cannot connect to the broker at {'; '.join(errors)}")


def connection_options(function: F) -> F:
    """--bootstrap-server, --output, --timeout, --admin-url, --command-config and -X on a
    command."""

    @click.option(
        "--bootstrap-server",
        "-b",
        "bootstrap_server",
        default=DEFAULT_BOOTSTRAP,
        show_default=True,
        envvar="KATKA_BOOTSTRAP_SERVER",
        metavar="HOST:PORT[,...]",
        help="Broker(s) to connect to.",
    )
    @click.option(
        "--output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Readable table, or JSON for scripts.",
    )
    @click.option(
        "--timeout",
        "timeout_s",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Seconds to wait for each broker request.",
    )
    @click.option(
        "--admin-url",
        default=None,
        envvar="KATKA_ADMIN_URL",
        help="katka's HTTP admin API (found from the broker's config when omitted).",
    )
    @click.option(
        "--command-config",
        "command_config",
        default=None,
        type=click.Path(dir_okay=False, exists=True),
        help="Kafka client properties (security.protocol, sasl.jaas.config, ssl.*), "
        "as kafka-topics.sh takes them.",
    )
    @click.option(
        "-X",
        "client_configs",
        multiple=True,
        metavar="NAME=VALUE",
        help="Any librdkafka client config (e.g. -X security.protocol=SSL).",
    )
    @functools.wraps(function)
    def wrapper(
        *args: Any,
        bootstrap_server: str,
        output: str,
        timeout_s: float,
        admin_url: str | None,
        client_configs: tuple[str, ...],
        command_config: str | None,
        **kwargs: Any,
    ) -> Any:
        configs: dict[str, str] = {}
        if command_config is not None:
            from katka.cli.command_config import CommandConfigError, load_command_config

            try:
                configs = load_command_config(command_config)
            except (CommandConfigError, ValueError) as error:
                raise CliError(f"--command-config: {error}") from None
        configs.update(parse_pairs(client_configs, "-X"))  # -X wins over the file
        connection = Connection(
            bootstrap_servers=bootstrap_server,
            output=output,
            timeout_s=timeout_s,
            admin_url=admin_url,
            client_configs=configs,
        )
        return function(connection, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def parse_pairs(items: Iterable[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        pairs[name.strip()] = value
    return pairs


def wait(future: Any, timeout_s: float, what: str) -> Any:
    """The result of a confluent-kafka future, with its error as a CliError."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import KafkaError, KafkaException

    timed_out = CliTimeout(f"{what}: timed out after {timeout_s:g} s")
    try:
        return future.result(timeout=timeout_s)
    except KafkaException as error:
        # The request's own timeout (librdkafka's _TIMED_OUT) races this wait's: both mean
        # the same to the user.
        inner = error.args[0] if error.args else None
        if getattr(inner, "code", lambda: None)() == KafkaError._TIMED_OUT:
            raise timed_out from None
        raise CliError(f"{what}: {kafka_error_text(error)}") from None
    except FutureTimeout:
        raise timed_out from None


def kafka_error_text(error: Any) -> str:
    """`Topic 'x' does not exist (UNKNOWN_TOPIC_OR_PART)` from a KafkaException/KafkaError."""
    inner = error.args[0] if getattr(error, "args", None) else error
    if hasattr(inner, "str") and hasattr(inner, "name"):
        message = inner.str() or inner.name()
        name = inner.name()
        return message if name in message else f"{message} ({name})"
    return str(error)


def emit_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    title: str | None = None,
    right_align: Iterable[str] = (),
) -> None:
    """Columns under a header, no rules: as kafka-consumer-groups.sh prints, easy to grep."""
    from rich.table import Table

    right = set(right_align)
    table = Table(title=title, box=None, title_justify="left", pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    with console().capture() as captured:
        console().print(table)
    # rich pads every cell to its column's width: trailing blanks only get in a diff's way.
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


@functools.cache
def console() -> Any:
    from rich.console import Console

    # Wide enough that pipes and captured output do not wrap tables at 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(width=width, highlight=False, soft_wrap=False)


def plural(count: int, noun: str) -> str:
    """`1 record`, `2 records`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def no_such_partition(topic: str, partition: int, count: int) -> CliError:
    return CliError(
        f"partition {partition} does not exist: {topic} has {plural(count, 'partition')}"
    )


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def kafka_admin_module() -> Any:
    """confluent_kafka.admin, loosely typed: its stubs do not re-export most of its names
    (NewTopic, ConfigResource, OffsetSpec, ...). Imported lazily to keep `--help` fast."""
    import importlib

    return importlib.import_module("confluent_kafka.admin")


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (`kill`) ask a command to stop at its next safe point.

    The handler only records the request: raising KeyboardInterrupt inside a confluent-kafka
    call (a delivery callback during flush, a rebalance callback during poll) would break the
    call, so the command's loop checks `requested` between calls. Only inside `interruptible()`
    (a blocking read of the input) does the signal raise KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested: int | None = None  # the signal number
        self._raise = False
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process stopped by it."""
        return 128 + (self.requested or signal.SIGINT)

    def _handle(self, signum: int, _frame: object) -> None:
        self.requested = signum
        if self._raise:
            raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A signal during this block raises KeyboardInterrupt at once."""
        if self.requested is not None:
            raise KeyboardInterrupt
        self._raise = True
        try:
            yield
        finally:
            self._raise = False
