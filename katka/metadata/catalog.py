"""The topic catalog: which topics exist, their ids, partition counts and config overrides.

Persisted as one JSON file replaced atomically (write, fsync, rename, fsync dir), so a crash
leaves either the old or the new catalog, never half of one. Internal topics (the group
coordinator's log) are kept here too and flagged.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from katka.errors import ErrorCode, KafkaError
from katka.storage.disk import faults

CATALOG_FILE = "katka-catalog.json"
MAX_TOPIC_NAME_LENGTH = 249
_LEGAL_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


@dataclass(slots=True)
class TopicInfo:
    name: str
    topic_id: uuid.UUID
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    internal: bool = False


def validate_topic_name(name: str) -> None:
    """Kafka's Topic.validate rules; raises KafkaError(INVALID_TOPIC_EXCEPTION)."""
    if not name:
        raise KafkaError(
            ErrorCode.invalid_topic_exception, "Topic name is illegal, it can't be empty"
        )
    if name in (".", ".."):
        raise KafkaError(ErrorCode.invalid_topic_exception, 'Topic name cannot be "." or ".."')
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise KafkaError(
            ErrorCode.invalid_topic_exception,
            f"Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LENGTH} characters",
        )
    if not _LEGAL_TOPIC_NAME.match(name):
        raise KafkaError(
            ErrorCode.invalid_topic_exception,
            f'Topic name "{name}" is illegal, it contains a character other than '
            "ASCII alphanumerics, '.', '_' and '-'",
        )


class TopicCatalog:
    def __init__(self, path: Path | None) -> None:
        """`path` is the catalog file, or None for a catalog that lives in memory only."""
        self._path = path
        self._saving_later = False  # inside one_save()
        self._unsaved = False  # a change made inside one_save()
        self._topics: dict[str, TopicInfo] = {}
        self._by_id: dict[uuid.UUID, TopicInfo] = {}
        if path is not None and path.exists():
            for entry in json.loads(path.read_text())["topics"]:
                self._add(
                    TopicInfo(
                        name=entry["name"],
                        topic_id=uuid.UUID(entry["topic_id"]),
                        partitions=entry["partitions"],
                        configs=dict(entry.get("configs", {})),
                        internal=entry.get("internal", False),
                    )
                )

    def _add(self, info: TopicInfo) -> None:
        self._topics[info.name] = info
        self._by_id[info.topic_id] = info

    def __contains__(self, name: str) -> bool:
        return name in self._topics

    def __iter__(self) -> Iterator[TopicInfo]:
        return iter(list(self._topics.values()))

    def get(self, name: str) -> TopicInfo | None:
        return self._topics.get(name)

    def by_id(self, topic_id: uuid.UUID) -> TopicInfo | None:
        return self._by_id.get(topic_id)

    def create(
        self, name: str, partitions: int, configs: Mapping[str, str], internal: bool = False
    ) -> TopicInfo:
        if name in self._topics:
            raise KafkaError(ErrorCode.topic_already_exists, f"Topic '{name}' already exists.")
        info = TopicInfo(name, uuid.uuid4(), partitions, dict(configs), internal)
        self._add(info)
        self.save()
        return info

    def delete(self, name: str) -> TopicInfo:
        info = self._topics.pop(name)
        del self._by_id[info.topic_id]
        self.save()
        return info

    def set_partitions(self, name: str, partitions: int) -> None:
        self._topics[name].partitions = partitions
        self.save()

    def set_configs(self, name: str, configs: Mapping[str, str]) -> None:
        self._topics[name].configs = dict(configs)
        self.save()

    @contextmanager
    def one_save(self) -> Iterator[None]:
        """Changes inside are written once, at the end (a fresh broker's three internal
        topics: one file replaced instead of three, two fsyncs instead of six)."""
        self._saving_later, self._unsaved = True, False
        try:
            yield
        finally:
            self._saving_later = False
        if self._unsaved:
            self.save()

    def save(self) -> None:
        if self._path is None:
            return
        if self._saving_later:
            self._unsaved = True
            return
        payload = {
            "version": 1,
            "topics": [
                {
                    "name": t.name,
                    "topic_id": str(t.topic_id),
                    "partitions": t.partitions,
                    "configs": t.configs,
                    "internal": t.internal,
                }
                for t in self._topics.values()
            ],
        }
        write_atomically(self._path, json.dumps(payload, indent=1).encode())


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        faults.fsync(file.fileno(), str(temporary))
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        faults.fsync(directory, str(path.parent))
    finally:
        os.close(directory)
