"""The internal topics' names, apart from the coordinators that own them: a starting broker
creates and opens them before it imports any coordinator."""

from __future__ import annotations

OFFSETS_TOPIC = "__consumer_offsets"  # the group coordinator's log
TRANSACTION_STATE_TOPIC = "__transaction_state"  # the transaction coordinator's log
SHARE_STATE_TOPIC = "__share_group_state"  # share-partition state (KIP-932)
