"""Client quota configs, kept as Kafka keeps them per entity, in a JSON file of the data
directory (replaced atomically) so they survive a restart.

An entity is a set of (type, name) components: user, client-id, both, or ip; a None name is
the type's default entity. The quota of a client is found in Kafka's order of precedence
(user+client-id, user+default client, user, default user+client-id, default user+default
client, default user, client-id, default client-id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from katka.errors import ErrorCode, KafkaError
from katka.metadata.catalog import write_atomically

USER, CLIENT_ID, IP = "user", "client-id", "ip"
PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
CLIENT_KEYS = {
    PRODUCER_BYTE_RATE,
    CONSUMER_BYTE_RATE,
    REQUEST_PERCENTAGE,
    "controller_mutation_rate",
}
IP_KEYS = {"connection_creation_rate"}
WHOLE_NUMBER_KEYS = {PRODUCER_BYTE_RATE, CONSUMER_BYTE_RATE, "connection_creation_rate"}
QUOTAS_FILE = "client-quotas.json"

# One component: (entity type, name or None for the default entity); sorted for identity.
QuotaEntity = tuple[tuple[str, str | None], ...]


def entity_of(components: Iterable[tuple[str, str | None]]) -> QuotaEntity:
    listed = list(components)
    types = [kind for kind, _ in listed]
    if len(set(types)) != len(types):
        raise KafkaError(ErrorCode.invalid_request, "Duplicate entity type in the entity.")
    unknown = set(types) - {USER, CLIENT_ID, IP}
    if unknown or not listed:
        raise KafkaError(ErrorCode.invalid_request, f"Unknown entity type(s) {sorted(unknown)}")
    if IP in types and len(types) > 1:
        raise KafkaError(ErrorCode.invalid_request, "An ip quota entity has no other type.")
    return tuple(sorted(listed, key=lambda c: c[0]))


class ClientQuotaStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._quotas: dict[QuotaEntity, dict[str, float]] = {}
        if path is not None and path.exists():
            for entry in json.loads(path.read_text())["entries"]:
                entity = tuple((kind, name) for kind, name in entry["entity"])
                self._quotas[entity] = dict(entry["values"])

    @property
    def empty(self) -> bool:
        """No quota configured (the common case: requests skip the quota work)."""
        return not self._quotas

    def entries(self) -> dict[QuotaEntity, dict[str, float]]:
        return {entity: dict(values) for entity, values in self._quotas.items()}

    def validate(self, entity: QuotaEntity, ops: Iterable[tuple[str, float, bool]]) -> None:
        allowed = IP_KEYS if entity[0][0] == IP else CLIENT_KEYS
        for key, value, remove in ops:
            if key not in allowed:
                raise KafkaError(ErrorCode.invalid_request, f"Unknown quota key {key}")
            if remove:
                continue
            if value <= 0:
                raise KafkaError(ErrorCode.invalid_request, f"Quota {key} must be positive")
            if key in WHOLE_NUMBER_KEYS and value != int(value):
                raise KafkaError(ErrorCode.invalid_request, f"Quota {key} must be an integer")

    def alter(self, entity: QuotaEntity, ops: Iterable[tuple[str, float, bool]]) -> None:
        values = self._quotas.setdefault(entity, {})
        for key, value, remove in ops:
            if remove:
                values.pop(key, None)
            else:
                values[key] = value
        if not values:
            del self._quotas[entity]

    def save(self) -> None:
        if self.path is None:
            return
        document = {
            "entries": [
                {"entity": [list(c) for c in entity], "values": values}
                for entity, values in sorted(self._quotas.items(), key=lambda e: str(e[0]))
            ]
        }
        write_atomically(self.path, json.dumps(document, indent=1).encode())

    def quota(self, user: str, client_id: str, key: str) -> float | None:
        """The quota `key` of this client in Kafka's order of precedence; None: unlimited."""
        for entity in _precedence(user, client_id):
            value = self._quotas.get(entity, {}).get(key)
            if value is not None:
                return value
        return None


def _precedence(user: str, client_id: str) -> list[QuotaEntity]:
    def both(u: str | None, c: str | None) -> QuotaEntity:
        return ((CLIENT_ID, c), (USER, u))

    return [
        both(user, client_id),
        both(user, None),
        ((USER, user),),
        both(None, client_id),
        both(None, None),
        ((USER, None),),
        ((CLIENT_ID, client_id),),
        ((CLIENT_ID, None),),
    ]


def matches(
    entity: QuotaEntity, components: Mapping[str, tuple[int, str | None]], strict: bool
) -> bool:
    """DescribeClientQuotas' filter: each component by EXACT (0) name, DEFAULT (1) or
    SPECIFIED (2: the entity has this type, the default included, as Kafka's quota image
    matches it, so `kafka-configs --describe --entity-type users` lists the default user);
    strict: the entity has no other types."""
    names = dict(entity)
    if strict and set(names) != set(components):
        return False
    for kind, (match_type, match) in components.items():
        if kind not in names:
            return False
        name = names[kind]
        if match_type == 0 and name != match:
            return False
        if match_type == 1 and name is not None:
            return False
    return True
