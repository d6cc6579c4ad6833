"""`katka user create|list|delete`: SCRAM users through AlterUserScramCredentials and
DescribeUserScramCredentials (KIP-554), as `kafka-configs --entity-type users` manages them.
The password is read from a prompt (or --password-file), never from the command line, so it
stays out of shell history and process lists; the client sends only the salted password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from katka.cli.common import (
    CliError,
    Connection,
    connection_options,
    emit_json,
    kafka_admin_module,
    print_table,
    wait,
)

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@click.group()
def user() -> None:
    """Create, list and delete SCRAM users.

    \b
    Example:
      katka user create alice --mechanism SCRAM-SHA-512
      katka user list
    """


def _mechanism(name: str) -> Any:
    ScramMechanism = kafka_admin_module().ScramMechanism

    return getattr(ScramMechanism, name.replace("-", "_"))


@user.command()
@click.argument("name")
@click.option(
    "--mechanism",
    "mechanisms",
    multiple=True,
    type=click.Choice(MECHANISMS),
    help="Repeatable.  [default: both]",
)
@click.option("--iterations", type=click.IntRange(4096, 16384), default=8192, show_default=True)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Read the password from this file's first line instead of a prompt.",
)
@connection_options
def create(
    connection: Connection,
    name: str,
    mechanisms: tuple[str, ...],
    iterations: int,
    password_file: str | None,
) -> None:
    """Add a SCRAM user, or replace its password.

    \b
    Example:
      katka user create alice --mechanism SCRAM-SHA-512 --password-file alice.txt
    """
    ScramCredentialInfo = kafka_admin_module().ScramCredentialInfo
    UserScramCredentialUpsertion = kafka_admin_module().UserScramCredentialUpsertion

    if password_file is not None:
        lines = Path(password_file).read_text().splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise CliError("the password is empty")
    admin = connection.admin()
    upsertions = [
        UserScramCredentialUpsertion(
            name, ScramCredentialInfo(_mechanism(m), iterations), password.encode()
        )
        for m in mechanisms or MECHANISMS
    ]
    futures = admin.alter_user_scram_credentials(upsertions)
    wait(futures[name], connection.timeout_s, f"cannot create user {name}")
    click.echo(f"User {name} has {', '.join(mechanisms or MECHANISMS)} credentials.")


@user.command(name="list")
@connection_options
def list_users(connection: Connection) -> None:
    """List SCRAM users and their mechanisms (never a secret).

    \b
    Example:
      katka user list --command-config admin.properties
    """
    admin = connection.admin()
    described = wait(
        admin.describe_user_scram_credentials(), connection.timeout_s, "cannot list users"
    )
    rows = [
        (name, info.mechanism.name.replace("_", "-"), info.iterations)
        for name, description in sorted(described.items())
        for info in description.scram_credential_infos
    ]
    if connection.json:
        emit_json([{"user": u, "mechanism": m, "iterations": i} for u, m, i in rows])
    else:
        print_table(("USER", "MECHANISM", "ITERATIONS"), rows, right_align=("ITERATIONS",))


@user.command()
@click.argument("name")
@click.option("--mechanism", "mechanisms", multiple=True, type=click.Choice(MECHANISMS))
@connection_options
def delete(connection: Connection, name: str, mechanisms: tuple[str, ...]) -> None:
    """Delete a user's SCRAM credentials (every mechanism it has by default).

    \b
    Example:
      katka user delete alice
    """
    UserScramCredentialDeletion = kafka_admin_module().UserScramCredentialDeletion

    admin = connection.admin()
    if not mechanisms:
        description = wait(
            admin.describe_user_scram_credentials([name])[name],
            connection.timeout_s,
            f"cannot delete user {name}",
        )
        mechanisms = tuple(
            info.mechanism.name.replace("_", "-") for info in description.scram_credential_infos
        )
    deletions = [UserScramCredentialDeletion(name, _mechanism(m)) for m in mechanisms]
    futures = admin.alter_user_scram_credentials(deletions)
    wait(futures[name], connection.timeout_s, f"cannot delete user {name}")
    click.echo(f"User {name}: {', '.join(mechanisms)} credentials deleted.")
