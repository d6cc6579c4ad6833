"""Kafka listeners as katka opens them: a name, its security protocol (from
listener.security.protocol.map), where it binds and what it advertises, and the security each
connection on it starts with (a TLS context, the SASL mechanisms enabled on it).

Per-listener configs are read as Kafka reads them: `listener.name.<name lower>.<config>` first,
then `<config>`; SASL ones as `listener.name.<name>.<mechanism lower>.<config>`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from katka.security.principal import ANONYMOUS, USER_TYPE, KafkaPrincipal

if TYPE_CHECKING:
    import ssl

    from katka.config import BrokerConfig
    from katka.node import Endpoint
    from katka.security.credentials import ScramCredentialStore
    from katka.security.principal_mapping import PrincipalMapper
    from katka.security.sasl import SaslServerFactory

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LISTENER_PREFIX = "listener.name."


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    name: str  # upper case, as Kafka normalises listener names
    security_protocol: str
    endpoint: Endpoint
    advertised: Endpoint | None = None

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")


@dataclass(slots=True)
class ListenerSecurity:
    """What a connection on one listener starts with."""

    spec: ListenerSpec
    ssl_context: ssl.SSLContext | None = None
    mechanisms: dict[str, SaslServerFactory] = field(default_factory=dict)
    principal_mapper: PrincipalMapper | None = None
    # mechanism -> connections.max.reauth.ms (KIP-368; 0: sessions never expire)
    reauth_ms: dict[str, int] = field(default_factory=dict)

    def tls_principal(self, peer_certificate: Mapping[str, object] | None) -> KafkaPrincipal:
        """The principal of a TLS connection before any SASL: the mapped certificate subject,
        or ANONYMOUS without a client certificate (Kafka's DefaultKafkaPrincipalBuilder)."""
        subject = (peer_certificate or {}).get("subject")
        if not subject or self.principal_mapper is None or self.spec.uses_sasl:
            return ANONYMOUS
        from katka.security.principal_mapping import distinguished_name

        return KafkaPrincipal(
            USER_TYPE,
            self.principal_mapper.name(distinguished_name(subject)),  # type: ignore[arg-type]
        )


def listener_lookup(
    config: BrokerConfig, listener_configs: Mapping[str, str], listener: str
) -> functools.partial[str | None]:
    return functools.partial(_lookup, config, listener_configs, listener.lower())


def _lookup(
    config: BrokerConfig, listener_configs: Mapping[str, str], listener: str, name: str
) -> str | None:
    prefixed = listener_configs.get(f"{LISTENER_PREFIX}{listener}.{name}")
    if prefixed is not None:
        return prefixed
    try:
        return config.get(name)
    except Exception:  # not a broker-wide config katka knows: only the prefixed form exists
        return None


def build_listener_security(
    spec: ListenerSpec,
    config: BrokerConfig,
    listener_configs: Mapping[str, str],
    credentials: ScramCredentialStore,
) -> ListenerSecurity:
    """Raises ValueError naming the config that is wrong (never its value). TLS and SASL
    code is imported only for a listener that uses them (a plaintext broker starts without)."""
    lookup = listener_lookup(config, listener_configs, spec.name)
    security = ListenerSecurity(spec)
    if spec.uses_tls:
        from katka.security.principal_mapping import PrincipalMapper
        from katka.security.tls import server_context

        security.ssl_context = server_context(lookup, spec.name)
        security.principal_mapper = PrincipalMapper(
            lookup("ssl.principal.mapping.rules") or "DEFAULT"
        )
    if spec.uses_sasl:
        enabled = [m.strip().upper() for m in (lookup("sasl.enabled.mechanisms") or "").split(",")]
        for mechanism in filter(None, enabled):
            if mechanism not in MECHANISMS:
                raise ValueError(
                    f"sasl.enabled.mechanisms of listener {spec.name}: katka supports "
                    f"{', '.join(MECHANISMS)}, not {mechanism}"
                )
            security.mechanisms[mechanism] = _mechanism_factory(
                mechanism, spec, listener_configs, credentials
            )
            security.reauth_ms[mechanism] = _reauth_ms(lookup, listener_configs, spec, mechanism)
        if not security.mechanisms:
            raise ValueError(f"listener {spec.name} uses SASL but sasl.enabled.mechanisms is empty")
    return security


def _reauth_ms(
    lookup: functools.partial[str | None],
    listener_configs: Mapping[str, str],
    spec: ListenerSpec,
    mechanism: str,
) -> int:
    """connections.max.reauth.ms as Kafka reads it: listener.name.<l>.<mechanism>. first,
    then listener.name.<l>., then the broker's."""
    name = "connections.max.reauth.ms"
    value = listener_configs.get(f"{LISTENER_PREFIX}{spec.name.lower()}.{mechanism.lower()}.{name}")
    if value is None:
        value = lookup(name)
    try:
        return int(value or 0)
    except ValueError:
        raise ValueError(f"{name} of listener {spec.name}: not a number of milliseconds") from None


def _mechanism_factory(
    mechanism: str,
    spec: ListenerSpec,
    listener_configs: Mapping[str, str],
    credentials: ScramCredentialStore,
) -> SaslServerFactory:
    from katka.security.jaas import parse_jaas_config, plain_users
    from katka.security.sasl import PlainServer
    from katka.security.scram import ScramMechanism, ScramServer

    if mechanism == "PLAIN":
        key = f"{LISTENER_PREFIX}{spec.name.lower()}.plain.sasl.jaas.config"
        jaas = listener_configs.get(key)
        if jaas is None:
            raise ValueError(f"listener {spec.name} enables PLAIN but sets no {key}")
        users = plain_users(parse_jaas_config(jaas))
        return functools.partial(PlainServer, users)
    scram = ScramMechanism.from_name(mechanism)
    return functools.partial(ScramServer, scram, credentials.get)
