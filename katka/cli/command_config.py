"""`--command-config FILE`: Kafka's client properties (what kafka-topics and the Java client
read) as the librdkafka configs the katka CLI's clients take, so one file works for both.

Translated: `sasl.jaas.config` (PlainLoginModule / ScramLoginModule username and password) to
sasl.username/sasl.password; PEM trust and key stores to ssl.ca.location and
ssl.certificate.location/ssl.key.location (or the inline ssl.truststore.certificates,
ssl.keystore.certificate.chain, ssl.keystore.key to librdkafka's ssl.ca.pem,
ssl.certificate.pem, ssl.key.pem). Keys librdkafka shares with Java (security.protocol,
sasl.mechanism, ssl.endpoint.identification.algorithm, ...) pass through; Java-only ones
(store types, JKS passwords) are dropped. A JKS or PKCS12 store is refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping

from katka.cli.properties import load_properties
from katka.security.jaas import parse_jaas_config

PASSED_THROUGH = (
    "security.protocol",
    "sasl.mechanism",
    "ssl.endpoint.identification.algorithm",
    "ssl.key.password",
    "client.id",
    "request.timeout.ms",
)
INLINE = {
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}


class CommandConfigError(ValueError):
    """Said in one line naming the key, never its value."""


def load_command_config(path: str) -> dict[str, str]:
    return librdkafka_configs(load_properties(path))


def librdkafka_configs(java: Mapping[str, str]) -> dict[str, str]:
    configs = {key: java[key] for key in PASSED_THROUGH if key in java}
    for key, target in INLINE.items():
        if key in java:
            configs[target] = java[key]
    if "sasl.jaas.config" in java:
        try:
            options = parse_jaas_config(java["sasl.jaas.config"]).options
        except ValueError as error:
            raise CommandConfigError(str(error)) from None
        if "username" not in options or "password" not in options:
            raise CommandConfigError("sasl.jaas.config: expected username and password options")
        configs["sasl.username"] = options["username"]
        configs["sasl.password"] = options["password"]
    for store, location_target in (
        ("ssl.truststore", ("ssl.ca.location",)),
        ("ssl.keystore", ("ssl.certificate.location", "ssl.key.location")),
    ):
        location = java.get(f"{store}.location")
        if location is None:
            continue
        store_type = java.get(f"{store}.type", "JKS").upper()
        if store_type != "PEM":
            raise CommandConfigError(
                f"{store}.type={store_type}: the katka CLI reads PEM stores "
                f"(set {store}.type=PEM and point {store}.location at a PEM file)"
            )
        for target in location_target:
            configs[target] = location
    return configs
