"""The `katka` command. Subcommands live in their own modules; this file wires them."""

from __future__ import annotations

import click

from katka.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="katka")
def cli() -> None:
    """katka: a Kafka-compatible event-streaming broker in one Python process."""


cli.add_command(serve)


def main() -> None:
    cli()
