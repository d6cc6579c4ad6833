"""Request in, response out, at the lowest and highest version of the transaction APIs: one
transactional producer writes, commits offsets in its transaction, and ends it."""

from __future__ import annotations

import datetime

from katka.api import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    describe_transactions,
    end_txn,
    init_producer_id,
    list_transactions,
    produce,
    txn_offset_commit,
    write_txn_markers,
)
from katka.errors import ErrorCode
from katka.protocol.records import build_batch
from tests.api.harness import ApiHarness, edges

TXN = "tx-1"
TIMEOUT = datetime.timedelta(seconds=60)


def begin(api: ApiHarness) -> tuple[int, int]:
    """A transactional producer's (id, epoch) with orders-0 added to its open transaction."""
    api.node.topics.create_topic("orders", 2, {})
    started = api.call(
        init_producer_id, 5, transactional_id=TXN, transaction_timeout=TIMEOUT, producer_id=-1
    )
    assert started.error_code == ErrorCode.none
    added = api.call(
        add_partitions_to_txn,
        3,
        v3_and_below_transactional_id=TXN,
        v3_and_below_producer_id=started.producer_id,
        v3_and_below_producer_epoch=started.producer_epoch,
        v3_and_below_topics=[{"name": "orders", "partitions": [0]}],
    )
    assert added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code == 0
    return started.producer_id, started.producer_epoch


def write(api: ApiHarness, producer_id: int, epoch: int) -> None:
    records = build_batch(
        [(None, b"v", (), 1_000)],
        producer_id=producer_id,
        producer_epoch=epoch,
        base_sequence=0,
        transactional=True,
    )
    response = api.call(
        produce,
        11,
        transactional_id=TXN,
        acks=-1,
        timeout=TIMEOUT,
        topic_data=[{"name": "orders", "partition_data": [{"index": 0, "records": records}]}],
    )
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.none


@edges(init_producer_id)
def test_init_producer_id_for_a_transactional_id(api: ApiHarness, version: int) -> None:
    response = api.call(
        init_producer_id, version, transactional_id=TXN, transaction_timeout=TIMEOUT, producer_id=-1
    )
    assert response.error_code == ErrorCode.none and response.producer_id >= 0


@edges(add_partitions_to_txn)
def test_add_partitions_to_txn_adds_known_partitions_and_refuses_unknown_ones(
    api: ApiHarness, version: int
) -> None:
    producer_id, epoch = begin(api)
    response = api.call(
        add_partitions_to_txn,
        version,
        v3_and_below_transactional_id=TXN,
        v3_and_below_producer_id=producer_id,
        v3_and_below_producer_epoch=epoch,
        v3_and_below_topics=[
            {"name": "orders", "partitions": [1]},
            {"name": "x", "partitions": [0]},
        ],
    )
    codes = {
        (topic.name, p.partition_index): p.partition_error_code
        for topic in response.results_by_topic_v3_and_below
        for p in topic.results_by_partition
    }
    assert codes[("x", 0)] == ErrorCode.unknown_topic_or_partition
    assert codes[("orders", 1)] in (ErrorCode.none, ErrorCode.operation_not_attempted)


@edges(add_offsets_to_txn)
def test_add_offsets_to_txn_then_txn_offset_commit(api: ApiHarness, version: int) -> None:
    producer_id, epoch = begin(api)
    added = api.call(
        add_offsets_to_txn,
        version,
        transactional_id=TXN,
        producer_id=producer_id,
        producer_epoch=epoch,
        group_id="g",
    )
    assert added.error_code == ErrorCode.none


@edges(txn_offset_commit)
def test_txn_offset_commit_is_visible_once_the_transaction_commits(
    api: ApiHarness, version: int
) -> None:
    producer_id, epoch = begin(api)
    ids = dict(transactional_id=TXN, producer_id=producer_id, producer_epoch=epoch)
    api.call(add_offsets_to_txn, 3, group_id="g", **ids)
    response = api.call(
        txn_offset_commit,
        version,
        group_id="g",
        generation_id=-1,
        member_id="",
        topics=[{"name": "orders", "partitions": [{"partition_index": 1, "committed_offset": 9}]}],
        **ids,
    )
    assert [p.error_code for p in response.topics[0].partitions] == [ErrorCode.none]
    assert not api.node.coordinator.fetch_offsets("g", None).partitions
    assert api.call(end_txn, 3, committed=True, **ids).error_code == ErrorCode.none
    committed = api.node.coordinator.fetch_offsets("g", None).partitions
    assert [(p.partition, p.committed_offset) for p in committed] == [(1, 9)]


@edges(end_txn)
def test_end_txn_commits_and_the_last_stable_offset_moves(api: ApiHarness, version: int) -> None:
    producer_id, epoch = begin(api)
    write(api, producer_id, epoch)
    partition_log = api.node.topics.get_log("orders", 0)
    assert partition_log.last_stable_offset == 0
    response = api.call(
        end_txn,
        version,
        transactional_id=TXN,
        producer_id=producer_id,
        producer_epoch=epoch,
        committed=True,
    )
    assert response.error_code == ErrorCode.none
    assert partition_log.last_stable_offset == partition_log.high_watermark == 2


@edges(describe_transactions)
def test_describe_transactions_shows_an_ongoing_transaction(api: ApiHarness, version: int) -> None:
    producer_id, _ = begin(api)
    response = api.call(describe_transactions, version, transactional_ids=[TXN, "unknown"])
    ongoing, unknown = response.transaction_states
    assert (ongoing.transaction_state, ongoing.producer_id) == ("Ongoing", producer_id)
    assert [(t.topic, tuple(t.partitions)) for t in ongoing.topics] == [("orders", (0,))]
    assert unknown.error_code == ErrorCode.transactional_id_not_found


@edges(list_transactions)
def test_list_transactions_lists_the_transactional_ids(api: ApiHarness, version: int) -> None:
    producer_id, _ = begin(api)
    response = api.call(
        list_transactions, version, state_filters=[], producer_id_filters=[], duration_filter=-1
    )
    assert response.error_code == ErrorCode.none
    assert [(s.transactional_id, s.producer_id) for s in response.transaction_states] == [
        (TXN, producer_id)
    ]


@edges(write_txn_markers)
def test_write_txn_markers_aborts_a_hanging_transaction(api: ApiHarness, version: int) -> None:
    producer_id, epoch = begin(api)
    write(api, producer_id, epoch)
    partition_log = api.node.topics.get_log("orders", 0)
    response = api.call(
        write_txn_markers,
        version,
        markers=[
            {
                "producer_id": producer_id,
                "producer_epoch": epoch,
                "transaction_result": False,
                "topics": [{"name": "orders", "partition_indexes": [0]}],
                "coordinator_epoch": 0,
            }
        ],
    )
    (marker,) = response.markers
    assert [p.error_code for p in marker.topics[0].partitions] == [ErrorCode.none]
    assert partition_log.last_stable_offset == partition_log.high_watermark == 2
