"""What the coordinator needs to know of the topic catalog (the broker passes its TopicCatalog)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Protocol


class TopicDescription(Protocol):
    """One topic (the catalog's TopicInfo fits)."""

    @property
    def name(self) -> str: ...

    @property
    def topic_id(self) -> uuid.UUID: ...

    @property
    def partitions(self) -> int: ...

    @property
    def internal(self) -> bool: ...


class TopicImage(Protocol):
    """The topics that exist now."""

    def get(self, name: str) -> TopicDescription | None: ...

    def by_id(self, topic_id: uuid.UUID) -> TopicDescription | None: ...

    def __iter__(self) -> Iterator[TopicDescription]: ...


class NoTopics:
    """A TopicImage with no topics (a coordinator built without a catalog)."""

    def get(self, name: str) -> TopicDescription | None:
        return None

    def by_id(self, topic_id: uuid.UUID) -> TopicDescription | None:
        return None

    def __iter__(self) -> Iterator[TopicDescription]:
        return iter(())
