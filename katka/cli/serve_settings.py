"""What `katka serve` runs with, from a Kafka `server.properties`, `-o name=value` and the
flags, in that order of precedence (a flag wins).

Kafka's file is honoured as a one-node Kafka would read it: its client listener (the one not
named in controller.listener.names) is opened and advertised, log.dirs (one directory) holds
the data, every value is checked against Kafka's range. Keys that mean nothing on one node
(KRaft roles and quorum, replication factors, thread pools) are accepted and listed in one
warning; unknown keys get Kafka's own warning and are dropped.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from katka.config import BROKER_CONFIGS, BrokerConfig, config_list
from katka.node import Endpoint
from katka.security.acls import AclStore
from katka.security.authorizer import Authorizer
from katka.security.credentials import ScramCredentialStore
from katka.security.listeners import (
    LISTENER_PREFIX,
    SECURITY_PROTOCOLS,
    ListenerSpec,
    build_listener_security,
)


@dataclass
class ServeSettings:
    config: BrokerConfig
    data_dir: Path
    listen: Endpoint
    advertised: Endpoint | None
    warnings: list[str] = field(default_factory=list)
    # Every client listener (the first is `listen`), and the listener.name.<l>.* configs.
    listeners: list[ListenerSpec] = field(default_factory=list)
    listener_configs: dict[str, str] = field(default_factory=dict)


def resolve_settings(
    file_values: Mapping[str, str],
    overrides: Mapping[str, str],
    flags: Mapping[str, str],
) -> ServeSettings:
    """Raises ValueError or KafkaError with one line saying what is wrong."""
    values = {**file_values, **overrides}
    # Per-listener configs (TLS stores, JAAS) are kept aside: names with a listener in them.
    listener_configs = {n: v for n, v in values.items() if n.startswith(LISTENER_PREFIX)}
    values = {n: v for n, v in values.items() if not n.startswith(LISTENER_PREFIX)}
    warnings = [
        f"The configuration '{name}' was supplied but isn't a known config."
        for name in values
        if name not in BROKER_CONFIGS
    ]
    values = {name: value for name, value in values.items() if name in BROKER_CONFIGS}
    values.update(flags)

    # DescribeConfigs reports what is in effect: the listeners opened, as advertised.
    opened, not_opened = _client_listeners(values)
    specs = [
        ListenerSpec(
            name, _protocol_map(values)[name], endpoint, _advertised(values, name, endpoint)
        )
        for name, endpoint in opened
    ]
    if "listeners" in values:
        values["listeners"] = ",".join(f"{s.name}://{_address(s.endpoint)}" for s in specs)
    if "advertised.listeners" in values:
        values["advertised.listeners"] = ",".join(
            f"{s.name}://{_address(s.advertised or s.endpoint)}" for s in specs
        )
    listen, advertised = specs[0].endpoint, specs[0].advertised
    data_dir = _data_dir(values)

    config = BrokerConfig(values)
    ignored = config.ignored_in_use()
    if ignored:
        detail = f" (not opened: {', '.join(not_opened)})" if not_opened else ""
        warnings.append(
            "Ignoring configs that mean nothing on a one-node katka broker: "
            f"{', '.join(ignored)}{detail}"
        )
    Authorizer.from_configs(  # an authorizer katka does not implement stops the start
        AclStore(None),
        config.get("authorizer.class.name") or "",
        config.get("super.users") or "",
        allow_if_no_acl=False,
    )
    for spec in specs:  # a TLS store or JAAS entry that cannot load stops the start here
        build_listener_security(spec, config, listener_configs, ScramCredentialStore(None))
    return ServeSettings(config, data_dir, listen, advertised, warnings, specs, listener_configs)


def _client_listeners(
    values: Mapping[str, str],
) -> tuple[list[tuple[str, Endpoint]], list[str]]:
    """The listeners katka opens, and the quorum listeners it leaves closed."""
    listeners = config_list(values.get("listeners", BROKER_CONFIGS["listeners"].default))
    # Listener names compare as Kafka normalises them: upper case.
    controller_names = {n.upper() for n in config_list(values.get("controller.listener.names"))}
    protocols = _protocol_map(values)
    opened: list[tuple[str, Endpoint]] = []
    not_opened: list[str] = []
    for listener in listeners:
        name, separator, _address = listener.partition("://")
        if not separator:
            raise ValueError(f"listeners: expected NAME://HOST:PORT, got {listener!r}")
        name = name.upper()
        if name in controller_names:
            not_opened.append(listener)
            continue
        protocol = protocols.get(name)
        if protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"listeners: {listener} uses security protocol {protocol or 'unknown'}; "
                f"map the name to one of {', '.join(SECURITY_PROTOCOLS)} in "
                "listener.security.protocol.map"
            )
        if name in (n for n, _ in opened):
            raise ValueError(f"listeners: listener name {name} appears twice")
        opened.append((name, Endpoint.parse(listener)))
    if not opened:
        raise ValueError(
            f"listeners: katka needs at least one client listener, got none: "
            f"{', '.join(listeners) or 'none'}"
        )
    return opened, not_opened


def _protocol_map(values: Mapping[str, str]) -> dict[str, str]:
    raw = values.get(
        "listener.security.protocol.map", BROKER_CONFIGS["listener.security.protocol.map"].default
    )
    result: dict[str, str] = {}
    for entry in config_list(raw):
        name, separator, protocol = entry.partition(":")
        if not separator:
            raise ValueError(
                f"listener.security.protocol.map: expected NAME:PROTOCOL, got {entry!r}"
            )
        result[name.strip().upper()] = protocol.strip().upper()
    return result


def _advertised(values: Mapping[str, str], name: str, listen: Endpoint) -> Endpoint | None:
    """The advertised address of the client listener: its entry in advertised.listeners, else
    (for a listener on every interface) this host's name, as Kafka advertises it."""
    for entry in config_list(values.get("advertised.listeners")):
        entry_name, separator, _address = entry.partition("://")
        if not separator:
            raise ValueError(f"advertised.listeners: expected NAME://HOST:PORT, got {entry!r}")
        if entry_name.upper() == name:
            advertised = Endpoint.parse(entry)
            if not advertised.host:
                raise ValueError(f"advertised.listeners: {entry} names no host")
            return advertised
    if not listen.host:
        return Endpoint(socket.getfqdn(), listen.port)
    return None


def _data_dir(values: Mapping[str, str]) -> Path:
    raw = values.get("log.dirs") or values.get("log.dir") or BROKER_CONFIGS["log.dir"].default
    directories = config_list(raw)
    if len(directories) != 1:
        raise ValueError(
            f"log.dirs: katka keeps its data in one directory, got {len(directories)}: "
            f"{', '.join(directories) or 'none'}"
        )
    return Path(directories[0])


def _address(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{host}:{endpoint.port}"
