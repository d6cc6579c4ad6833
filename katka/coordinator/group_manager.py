"""GroupManager: what the coordinator service asks of every group protocol's manager.

The classic (classic/manager.py), KIP-848 consumer (consumer/manager.py) and KIP-932 share
(share/manager.py) managers implement it. A manager owns the groups of its protocol and
decides with the Context it is given; it never appends records or schedules timers itself: the
service executes the effects (service.py says how a protocol plugs in).
"""

from __future__ import annotations

from typing import Protocol

from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.offsets import OffsetCommitter
from katka.coordinator.records import ConsumerGroupKey, GroupKey, Record
from katka.coordinator.results import GroupSummary, ListedGroup
from katka.errors import ErrorCode


class GroupManager(Protocol):
    """What the service asks of every group protocol's manager."""

    @property
    def group_type(self) -> str:
        """ListGroups' group type (v5+)."""
        ...

    @property
    def record_key(self) -> type:
        """The record key type (records.py) its records carry."""
        ...

    def owns(self, group_id: str) -> bool: ...

    def is_empty(self, group_id: str) -> bool:
        """True when another protocol may take the group id over."""
        ...

    def remove_group(self, group_id: str, ctx: Context) -> None:
        """Forget an empty group and tombstone its records (not its offsets)."""
        ...

    def delete_group(self, group_id: str, ctx: Context) -> ErrorCode:
        """DeleteGroups for an owned group: remove it, or say why not."""
        ...

    def start_load(self) -> None: ...

    def apply(self, key: bytes, decoded: GroupKey | ConsumerGroupKey, value: bytes | None) -> None:
        """A record of this manager's key type: at run time and during replay."""
        ...

    def finish_load(self, ctx: Context) -> None: ...

    def live_records(self) -> list[Record]:
        """The latest record of every live key (for compaction)."""
        ...

    def on_executed(self, fx: Effects) -> None:
        """The effects were executed: answer the parked requests they name."""
        ...

    def on_timer(self, event: TimerEvent, ctx: Context) -> None: ...

    def shutdown(self) -> None: ...

    def validate_offset_commit(
        self, group_id: str, committer: OffsetCommitter, ctx: Context
    ) -> ErrorCode | None:
        """The group's verdict on an OffsetCommit (group_id may be unknown to every manager)."""
        ...

    def validate_offset_fetch(
        self, group_id: str, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None: ...

    def validate_offset_delete(self, group_id: str) -> frozenset[str]:
        """Topics whose offsets must stay; raises KafkaError when the group refuses."""
        ...

    def prepare_offset_reset(self, group_id: str, live: bool, ctx: Context) -> ErrorCode | None:
        """Before katka's offset reset of a group this manager owns (or of an unknown id): None
        when the new offsets may be written; with `live`, fence the members so they resume
        from them (docs/admin-api.md); an error when the group refuses."""
        ...

    def expire_offsets(self, ctx: Context) -> int:
        """Tombstone expired offsets (and groups left empty without any); how many."""
        ...

    def listed(self, states: set[str]) -> list[ListedGroup]: ...

    def summaries(self) -> list[GroupSummary]: ...

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]: ...
