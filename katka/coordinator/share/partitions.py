"""SharePartitions: every share partition's state and every share session, made durable.

Kafka splits this between the share-partition leader (SharePartitionManager) and the share
coordinator over `__share_group_state`; in one process it is one object. A share partition is
created on the first ShareFetch of its group, at the offset `share.auto.offset.reset` says
(latest by default), or restored from its last snapshot. Every change that must survive a
restart appends a snapshot (state_records.py) before the answer leaves; acquisitions are not
written (Kafka does not persist locks either: after a restart the records are available again).

Share sessions (KIP-932's analogue of KIP-227 fetch sessions) are kept per (group, member): epoch
0 opens one, -1 closes it, any other epoch must be the next one. As in Kafka, a share session
belongs to the share-partition leader, not to the group: a member that left the group (heartbeat
epoch -1) still acknowledges in its open session, and its records still acquired are released
when the session closes, by the final request (epoch -1) or by its connection closing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import InternalLog
from katka.coordinator.records import Record
from katka.coordinator.share import state_records
from katka.coordinator.share.partition import ShareConfig, SharePartition, StateBatch
from katka.coordinator.share.state_records import ShareKey
from katka.errors import ErrorCode, KafkaError

logger = logging.getLogger("katka.share")

SessionPartition = tuple[uuid.UUID, int]


@dataclass
class ShareSession:
    epoch: int  # the epoch the next request must carry
    owner: object = None  # the connection that opened it: its closing closes the session
    partitions: dict[SessionPartition, None] = field(default_factory=dict)  # ordered set


class SharePartitions:
    def __init__(self, log: InternalLog, defaults: CoordinatorConfig) -> None:
        self._log = log
        self.defaults = defaults
        # Group configs (IncrementalAlterConfigs on GROUP resources), by group id.
        self.group_configs: dict[str, dict[str, str]] = {}
        self._partitions: dict[ShareKey, SharePartition] = {}
        self._restored: dict[ShareKey, tuple[int, list[StateBatch]]] = {}
        self._sessions: dict[tuple[str, str], ShareSession] = {}
        self._writes_since_compaction = 0

    # --- start-up ------------------------------------------------------------------------

    def load(self) -> None:
        """Replay the snapshots: the latest per share partition wins, a tombstone removes it."""
        self._partitions.clear()
        self._restored.clear()
        count = 0
        for key_bytes, value in self._log.replay():
            count += 1
            group_config = state_records.decode_group_config_key(key_bytes)
            if group_config is not None:
                self._apply_group_configs(group_config, value)
                continue
            key = state_records.decode_key(key_bytes)
            if key is None:
                continue
            if value is None:
                self._restored.pop(key, None)
            else:
                self._restored[key] = state_records.decode_value(value)
        self._writes_since_compaction = count
        logger.info("share state loaded: %d share partitions", len(self._restored))

    def set_group_configs(self, group_id: str, configs: dict[str, str]) -> None:
        """Make a share group's configs durable, then use them (new share partitions and
        new acquisitions see them; records in flight keep their locks)."""
        key = state_records.encode_group_config_key(group_id)
        self._log.append([(key, state_records.encode_group_configs(configs) if configs else None)])
        self._apply_group_configs(group_id, state_records.encode_group_configs(configs))
        for share_key, partition in self._partitions.items():
            if share_key[0] == group_id:
                partition.config = self.config_for(group_id)

    def _apply_group_configs(self, group_id: str, value: bytes | None) -> None:
        configs = state_records.decode_group_configs(value) if value is not None else {}
        if configs:
            self.group_configs[group_id] = configs
        else:
            self.group_configs.pop(group_id, None)

    def config_for(self, group_id: str) -> ShareConfig:
        """A share group's settings: its group configs over the broker's defaults."""
        d, own = self.defaults, self.group_configs.get(group_id, {})
        return ShareConfig(
            int(own.get("share.record.lock.duration.ms", d.share_record_lock_duration_ms)),
            int(own.get("share.delivery.count.limit", d.share_delivery_count_limit)),
            int(own.get("share.partition.max.record.locks", d.share_partition_max_record_locks)),
            own.get("share.auto.offset.reset", "latest"),
            own.get("share.isolation.level") == "read_committed",
        )

    def group_ids(self) -> set[str]:
        return {key[0] for key in (*self._restored, *self._partitions)}

    # --- share partitions ------------------------------------------------------------------

    def get(
        self,
        key: ShareKey,
        log_start: int,
        high_watermark: int,
        offset_for_time: Callable[[int], int],
    ) -> SharePartition:
        """The share partition, created or restored on first use; its SPSO never lags the log
        start (records deleted by retention are gone for the share group too)."""
        partition = self._partitions.get(key)
        if partition is None:
            config = self.config_for(key[0])
            restored = self._restored.pop(key, None)
            if restored is not None:
                partition = SharePartition.restore(*restored, config)
            else:
                start = initial_offset(
                    config.auto_offset_reset, log_start, high_watermark, offset_for_time
                )
                partition = SharePartition(start, config)
            self._partitions[key] = partition
        if partition.start_offset < log_start:
            partition.move_start(log_start)
        return partition

    def existing(
        self, group_id: str
    ) -> dict[ShareKey, SharePartition | tuple[int, list[StateBatch]]]:
        """The group's share partitions, live or only restored (for describe and offsets)."""
        found: dict[ShareKey, SharePartition | tuple[int, list[StateBatch]]] = {}
        found.update((k, v) for k, v in self._restored.items() if k[0] == group_id)
        found.update((k, v) for k, v in self._partitions.items() if k[0] == group_id)
        return found

    def persist(self, keys: Iterable[ShareKey]) -> None:
        """Write the current state of these share partitions (durable when it returns)."""
        records: list[Record] = []
        for key in dict.fromkeys(keys):
            partition = self._partitions[key]
            value = state_records.encode_value(partition.start_offset, partition.state_batches())
            records.append((state_records.encode_key(key), value))
        if records:
            self._log.append(records)
            self._writes_since_compaction += len(records)
            self._maybe_compact()

    def close_session(self, group_id: str, member_id: str, owner: object = None) -> list[ShareKey]:
        """The member's share session ends (its final request, or with `owner` given, the
        connection that opened it closed): the records it still holds become available again,
        as Kafka's releaseSession does. The share partitions changed (persisted)."""
        key = (group_id, member_id)
        session = self._sessions.get(key)
        if owner is not None and (session is None or session.owner is not owner):
            return []  # reopened on another connection since: that one owns it now
        self._sessions.pop(key, None)
        changed = [
            share_key
            for share_key, partition in self._partitions.items()
            if share_key[0] == group_id and partition.release_member(member_id)
        ]
        self.persist(changed)
        return changed

    def delete_group(self, group_id: str, keys: Iterable[ShareKey] | None = None) -> None:
        """Forget the group's state (all of it, or these share partitions): tombstones."""
        only = None if keys is None else set(keys)
        chosen = [k for k in self.existing(group_id) if only is None or k in only]
        for key in chosen:
            self._partitions.pop(key, None)
            self._restored.pop(key, None)
        if chosen:
            self._log.append([(state_records.encode_key(k), None) for k in chosen])
        if keys is None:
            for session in [s for s in self._sessions if s[0] == group_id]:
                del self._sessions[session]

    def reset(self, key: ShareKey, start_offset: int) -> None:
        """AlterShareGroupOffsets: the share partition starts over at `start_offset`."""
        self._restored.pop(key, None)
        self._partitions[key] = SharePartition(start_offset, self.config_for(key[0]))
        self.persist([key])

    # --- share sessions ----------------------------------------------------------------------

    def session(
        self, group_id: str, member_id: str, epoch: int, owner: object = None
    ) -> ShareSession:
        """The share session a request with this epoch works in (epoch 0 opens a new one on
        connection `owner`, -1 is the final request of one: the caller applies its
        acknowledgements, then close_session); SHARE_SESSION_NOT_FOUND or
        INVALID_SHARE_SESSION_EPOCH."""
        key = (group_id, member_id)
        if epoch == 0:
            opened = self._sessions[key] = ShareSession(1, owner)
            return opened
        session = self._sessions.get(key)
        if session is None:
            raise KafkaError(ErrorCode.share_session_not_found)
        if epoch == -1:
            return session
        if epoch != session.epoch:
            raise KafkaError(ErrorCode.invalid_share_session_epoch)
        session.epoch = epoch + 1 if epoch < 2**31 - 1 else 1
        return session

    def session_count(self) -> int:
        return len(self._sessions)

    # --- internals ---------------------------------------------------------------------------

    def _maybe_compact(self, min_records: int = 10_000) -> None:
        live = len(self._partitions) + len(self._restored)
        if self._writes_since_compaction < max(min_records, 2 * live):
            return
        records: list[Record] = [
            (state_records.encode_group_config_key(g), state_records.encode_group_configs(c))
            for g, c in self.group_configs.items()
        ]
        records += [
            (
                state_records.encode_key(k),
                state_records.encode_value(p.start_offset, p.state_batches()),
            )
            for k, p in self._partitions.items()
        ]
        records.extend(
            (state_records.encode_key(k), state_records.encode_value(*v))
            for k, v in self._restored.items()
        )
        self._log.compact(records)
        self._writes_since_compaction = len(records)


def initial_offset(
    policy: str, log_start: int, high_watermark: int, offset_for_time: Callable[[int], int]
) -> int:
    """share.auto.offset.reset: earliest, latest or by_duration:<ISO-8601 duration> (the first
    offset whose timestamp is at most that long ago; offset_for_time gets a cutoff in ms ago)."""
    if policy == "earliest":
        return log_start
    if policy.startswith("by_duration:"):
        return offset_for_time(parse_duration_ms(policy.split(":", 1)[1]))
    return high_watermark


def parse_duration_ms(text: str) -> int:
    """An ISO-8601 duration as Kafka's by_duration takes it: PnDTnHnMn.nS."""
    import re

    match = re.fullmatch(
        r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip().upper()
    )
    if match is None or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return int((((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000)
