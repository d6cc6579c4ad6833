"""What the transactional APIs share: PRODUCER_FENCED only for clients that know it (KIP-588)."""

from __future__ import annotations

from katka.errors import ErrorCode

# The first version of each API whose clients understand PRODUCER_FENCED; older ones get
# INVALID_PRODUCER_EPOCH, as Kafka answers them.
PRODUCER_FENCED_SINCE = {22: 4, 24: 2, 25: 2, 26: 2, 28: 3}


def for_version(code: ErrorCode, api_key: int, api_version: int) -> ErrorCode:
    if code == ErrorCode.producer_fenced and api_version < PRODUCER_FENCED_SINCE.get(api_key, 0):
        return ErrorCode.invalid_producer_epoch
    return code
