"""Which (api key, version) pairs old_versions.py serves, kept apart from the schemas.

The codec and make() ask on every request whether a version is one kio lacks; the schemas
themselves (old_schemas.py and their generated classes, about 5 ms of a start) load only when
an old client sends one. A test checks this table against old_versions.OLD_VERSIONS.
"""

from __future__ import annotations

# api key: the versions Kafka 4.0 dropped that katka still answers (KIP-896)
_OLD: dict[int, range] = {
    0: range(0, 3),  # Produce
    1: range(0, 4),  # Fetch
    2: range(0, 1),  # ListOffsets
    8: range(0, 2),  # OffsetCommit
    9: range(0, 1),  # OffsetFetch
    19: range(0, 2),  # CreateTopics
    20: range(0, 1),  # DeleteTopics
    23: range(0, 2),  # OffsetForLeaderEpoch
    27: range(0, 1),  # WriteTxnMarkers
    29: range(0, 1),  # DescribeAcls
    30: range(0, 1),  # CreateAcls
    31: range(0, 1),  # DeleteAcls
    32: range(0, 1),  # DescribeConfigs
    34: range(0, 1),  # AlterReplicaLogDirs
    35: range(0, 1),  # DescribeLogDirs
}

OLD_VERSION_KEYS: frozenset[tuple[int, int]] = frozenset(
    (api_key, version) for api_key, versions in _OLD.items() for version in versions
)


def is_old_entity(entity: object) -> bool:
    """A request or response object of one of these versions (old_versions.py's classes)."""
    return hasattr(type(entity), "__katka_fields__")
