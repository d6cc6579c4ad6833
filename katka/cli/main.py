"""The `katka` command. Subcommands live in their own modules; this file wires them.

Errors leave as one line on stderr (`katka: error: ...`) with a non-zero exit code: 1 for a
failure, 2 for bad usage (click's convention), 130 after Ctrl-C.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click


class KatkaCommands(click.Group):
    """The commands, each imported only when it runs or help lists it: `serve` loads the whole
    broker (~0.6 s of CPU), which client commands such as `katka topic list` never need, and
    a serving process needs none of the client commands."""

    LAZY = {
        "serve": "katka.cli.serve",
        "topic": "katka.cli.topic",
        "produce": "katka.cli.produce",
        "consume": "katka.cli.consume",
        "group": "katka.cli.group.commands",
        "share-group": "katka.cli.share_group",
        "transaction": "katka.cli.transaction",
        "user": "katka.cli.user",
        "acl": "katka.cli.acl",
        "console": "katka.cli.console.command",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY and name not in self.commands:
            self.add_command(
                getattr(importlib.import_module(self.LAZY[name]), name.replace("-", "_"))
            )
        return super().get_command(ctx, name)


@click.group(
    cls=KatkaCommands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="katka")
def cli() -> None:
    """katka: a Kafka-compatible event-streaming broker in one Python process.

    The client commands (topic, produce, consume, group, transaction) work against any
    Kafka-compatible cluster; what only katka knows (generation, lag in time, rebalance
    history) comes from its HTTP admin API, found through --bootstrap-server.

    Short flags mean one thing everywhere, kcat's where it has one: -b broker, -t topic,
    -p partition, -g group, -c count, -e exit at end, -f format, -K key separator,
    -H header, -z compression, -l input file, -X client config.

    \b
    Example:
      katka serve &
      katka topic create orders --partitions 3
      printf 'k1:hello\\nk2:world\\n' | katka produce orders --key-separator :
      katka consume orders --from-beginning --max-messages 2 --format '%k=%v\\n'
    """


def run(args: Sequence[str] | None = None) -> int:
    """Run one command with `katka`'s error conventions and return its exit code.

    main() exits with it; tests call it in-process (much faster than a subprocess)."""
    try:
        # standalone_mode=False: click returns the code of an Exit raised by a command.
        outcome = cli.main(
            args=list(args) if args is not None else None, standalone_mode=False, prog_name="katka"
        )
        return outcome if isinstance(outcome, int) else 0
    except click.exceptions.Exit as done:
        return done.exit_code
    except (
        click.exceptions.NoArgsIsHelpError
    ) as error:  # `katka` or `katka group` alone: the help, not an error
        assert error.ctx is not None
        click.echo(error.ctx.get_help())
        return error.exit_code
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        click.echo(f"katka: error: {error.format_message()}{hint}", err=True)
        return error.exit_code
    except click.ClickException as error:
        click.echo(f"katka: error: {error.format_message()}", err=True)
        return error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("katka: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0  # `katka consume ... | head`: the reader has what it wanted


def main() -> None:
    sys.exit(run())
