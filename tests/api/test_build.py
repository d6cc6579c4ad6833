"""make(): one statement of every value; the request's version decides what goes on the wire."""

from __future__ import annotations

import pytest
from kio.schema.fetch.v4 import response as fetch_v4
from kio.schema.fetch.v12 import response as fetch_v12

from katka.api._build import make
from katka.errors import ErrorCode

PARTITION = dict(
    partition_index=0,
    error_code=ErrorCode.none,
    high_watermark=1,
    last_stable_offset=1,
    aborted_transactions=None,
    records=b"",
)


def test_a_field_of_a_later_version_is_dropped_from_an_earlier_one() -> None:
    partition = make(fetch_v4.PartitionData, log_start_offset=0, **PARTITION)
    assert not hasattr(partition, "log_start_offset")
    later = make(fetch_v12.PartitionData, log_start_offset=0, **PARTITION)
    assert later.log_start_offset == 0


def test_a_field_no_version_has_is_refused() -> None:
    with pytest.raises(TypeError, match="log_start_ofset"):
        make(fetch_v4.PartitionData, log_start_ofset=0, **PARTITION)
    with pytest.raises(TypeError, match="log_start_ofset"):
        make(fetch_v12.PartitionData, log_start_offset=0, log_start_ofset=0, **PARTITION)
