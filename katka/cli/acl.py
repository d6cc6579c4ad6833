"""`katka acl create|list|delete`: ACLs through CreateAcls, DescribeAcls and DeleteAcls, with
kafka-acls.sh's flags (--allow-principal, --deny-principal, --operation, --topic, --group,
--cluster, --transactional-id, --resource-pattern-type)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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

F = TypeVar("F", bound=Callable[..., Any])

OPERATIONS = (
    "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
)  # fmt: skip


@click.group()
def acl() -> None:
    """Create, list and delete ACLs (the broker needs authorizer.class.name set).

    \b
    Example:
      katka acl create --allow-principal User:alice --operation READ --topic orders
      katka acl create --allow-principal User:alice --operation WRITE \\
          --topic orders- --resource-pattern-type prefixed
      katka acl list --topic orders
    """


def resource_options(function: F) -> F:
    for option in reversed(
        (
            click.option("--topic", default=None),
            click.option("--group", default=None),
            click.option("--transactional-id", default=None),
            click.option("--cluster", is_flag=True, help="The cluster resource."),
            click.option(
                "--resource-pattern-type",
                type=click.Choice(["literal", "prefixed", "any", "match"], case_sensitive=False),
                default=None,
                help="[default: literal for create, any for list and delete]",
            ),
        )
    ):
        function = option(function)
    return function


def _resource(
    topic: str | None, group: str | None, transactional_id: str | None, cluster: bool
) -> tuple[Any, str | None]:
    ResourceType = kafka_admin_module().ResourceType

    chosen = [
        (kind, name)
        for kind, name in (
            (ResourceType.TOPIC, topic),
            (ResourceType.GROUP, group),
            (ResourceType.TRANSACTIONAL_ID, transactional_id),
            (ResourceType.BROKER, "kafka-cluster" if cluster else None),
        )
        if name is not None
    ]
    if len(chosen) > 1:
        raise CliError("name one resource: --topic, --group, --transactional-id or --cluster")
    return chosen[0] if chosen else (ResourceType.ANY, None)


def _pattern(name: str | None, default: str) -> Any:
    ResourcePatternType = kafka_admin_module().ResourcePatternType

    return getattr(ResourcePatternType, (name or default).upper())


@acl.command()
@click.option("--allow-principal", "allow", multiple=True, metavar="TYPE:NAME")
@click.option("--deny-principal", "deny", multiple=True, metavar="TYPE:NAME")
@click.option(
    "--operation",
    "operations",
    multiple=True,
    required=True,
    type=click.Choice(OPERATIONS, case_sensitive=False),
)
@click.option("--host", default="*", show_default=True)
@resource_options
@connection_options
def create(
    connection: Connection,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    operations: tuple[str, ...],
    host: str,
    topic: str | None,
    group: str | None,
    transactional_id: str | None,
    cluster: bool,
    resource_pattern_type: str | None,
) -> None:
    """Add ACLs: each principal gets each operation on the resource.

    \b
    Example:
      katka acl create --allow-principal User:alice --operation READ --topic orders
    """
    AclBinding = kafka_admin_module().AclBinding
    AclOperation = kafka_admin_module().AclOperation
    AclPermissionType = kafka_admin_module().AclPermissionType

    resource_type, name = _resource(topic, group, transactional_id, cluster)
    if name is None:
        raise CliError("name a resource: --topic, --group, --transactional-id or --cluster")
    if not allow and not deny:
        raise CliError("name a principal: --allow-principal or --deny-principal")
    pattern = _pattern(resource_pattern_type, "literal")
    bindings = [
        AclBinding(
            resource_type,
            name,
            pattern,
            principal,
            host,
            getattr(AclOperation, operation.upper()),
            permission,
        )  # fmt: skip
        for permission, principals in (
            (AclPermissionType.ALLOW, allow),
            (AclPermissionType.DENY, deny),
        )
        for principal in principals
        for operation in operations
    ]
    admin = connection.admin()
    for binding, future in admin.create_acls(bindings).items():
        wait(future, connection.timeout_s, f"cannot create {binding}")
    click.echo(f"Created {len(bindings)} ACL(s) on {resource_type.name} {name}.")


@dataclass(frozen=True)
class Selection:
    """What `acl list` and `acl delete` match: a principal and a resource, each optional."""

    principal: str | None
    topic: str | None
    group: str | None
    transactional_id: str | None
    cluster: bool
    resource_pattern_type: str | None

    def names_something(self) -> bool:
        named = (self.principal, self.topic, self.group, self.transactional_id, self.cluster)
        return any(named)

    def acl_filter(self) -> Any:
        AclBindingFilter = kafka_admin_module().AclBindingFilter
        AclOperation = kafka_admin_module().AclOperation
        AclPermissionType = kafka_admin_module().AclPermissionType

        resource_type, name = _resource(self.topic, self.group, self.transactional_id, self.cluster)
        return AclBindingFilter(
            resource_type, name, _pattern(self.resource_pattern_type, "any"), self.principal,
            None, AclOperation.ANY, AclPermissionType.ANY,
        )  # fmt: skip


def selection_options(function: Callable[..., None]) -> Callable[..., None]:
    """--principal and the resource options, handed to the command as one `selection`."""

    @click.option("--principal", default=None, metavar="TYPE:NAME")
    @resource_options
    @functools.wraps(function)
    def command(
        principal: str | None,
        topic: str | None,
        group: str | None,
        transactional_id: str | None,
        cluster: bool,
        resource_pattern_type: str | None,
        **kwargs: Any,
    ) -> None:
        selection = Selection(
            principal, topic, group, transactional_id, cluster, resource_pattern_type
        )
        function(selection=selection, **kwargs)

    return command


def _rows(bindings: list[Any]) -> list[tuple[str, ...]]:
    return [
        (
            b.restype.name,
            b.name,
            b.resource_pattern_type.name,
            b.principal,
            b.host,
            b.operation.name,
            b.permission_type.name,
        )  # fmt: skip
        for b in bindings
    ]


COLUMNS = ("RESOURCE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION")


def _show(connection: Connection, bindings: list[Any]) -> None:
    rows = _rows(bindings)
    if connection.json:
        emit_json([dict(zip((c.lower() for c in COLUMNS), row, strict=True)) for row in rows])
    else:
        print_table(COLUMNS, rows)


@acl.command(name="list")
@selection_options
@connection_options
def list_acls(connection: Connection, selection: Selection) -> None:
    """List the ACLs matching the resource and principal given (all by default).

    \b
    Example:
      katka acl list --principal User:alice
    """
    admin = connection.admin()
    acls = wait(admin.describe_acls(selection.acl_filter()), connection.timeout_s, "cannot list")
    _show(connection, acls)


@acl.command()
@selection_options
@connection_options
def delete(connection: Connection, selection: Selection) -> None:
    """Delete the ACLs matching the resource and principal given, and list them.

    \b
    Example:
      katka acl delete --topic orders --principal User:alice
    """
    if not selection.names_something():
        raise CliError("name what to delete: a resource or --principal")
    admin = connection.admin()
    deleted = [
        binding
        for future in admin.delete_acls([selection.acl_filter()]).values()
        for binding in wait(future, connection.timeout_s, "cannot delete")
    ]
    _show(connection, deleted)
