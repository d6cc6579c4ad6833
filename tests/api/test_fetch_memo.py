"""An idle consumer's repeated Fetch is answered from the connection's remembered answer while
nothing it reads has changed, and read again as soon as anything has (api/_fetch_memo.py)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from katka.api import delete_records, fetch
from katka.api.context import RequestContext
from katka.protocol.codec import request_schema
from katka.security.session import Session
from tests.api.harness import ApiHarness, build
from tests.api.test_log_apis import batch, produce_to

VERSIONS = (4, 11, 12, 16)


def request_for(api: ApiHarness, version: int, offset: int) -> Any:
    topics: list[dict[str, Any]] = [
        {
            "topic": "orders",
            "topic_id": api.node.topics.catalog.get("orders").topic_id,  # type: ignore[union-attr]
            "partitions": [
                {"partition": 0, "fetch_offset": offset, "partition_max_bytes": 1 << 20}
            ],
        }
    ]
    return build(
        request_schema(fetch.API_KEY, version),
        dict(
            max_wait=datetime.timedelta(0),
            min_bytes=1,
            max_bytes=1 << 20,
            session_epoch=-1,
            topics=topics,
        ),
    )


class Connection:
    """One client connection's session, sending fetches and counting the partitions read."""

    def __init__(self, api: ApiHarness, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.version = version
        self.session = Session(client_host="127.0.0.1")
        self.reads = 0
        answer = fetch._Reader.answer

        def counting(reader: Any, topic: str, fetch_partition: Any) -> Any:
            self.reads += 1
            return answer(reader, topic, fetch_partition)

        monkeypatch.setattr(fetch._Reader, "answer", counting)

    def fetch(self, request: Any) -> Any:
        context = RequestContext(fetch.API_KEY, self.version, 1, "c", "127.0.0.1", self.session)
        response = fetch.handle(context, request, self.api.node)
        assert not hasattr(response, "__await__"), "max_wait 0 answers at once"
        return response

    def fresh(self, request: Any) -> Any:
        """The same request's answer on a connection with nothing remembered."""
        context = RequestContext(fetch.API_KEY, self.version, 1, "c", "127.0.0.1")
        return fetch.handle(context, request, self.api.node)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_the_same_idle_fetch_is_answered_without_reading_again(
    api: ApiHarness, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    connection = Connection(api, version, monkeypatch)
    request = request_for(api, version, 0)
    first = connection.fetch(request)
    again = connection.fetch(request)
    assert connection.reads == 1
    assert again == first == connection.fresh(request)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_a_produce_to_the_partition_makes_the_next_fetch_read_it(
    api: ApiHarness, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    connection = Connection(api, version, monkeypatch)
    request = request_for(api, version, 0)
    connection.fetch(request)
    produce_to(api, 3, "orders", 0, batch(b"a"))
    answer = connection.fetch(request)
    assert connection.reads == 2
    (partition,) = answer.responses[0].partitions
    assert partition.high_watermark == 1 and len(partition.records) > 0
    assert answer == connection.fresh(request)


def test_an_answer_with_records_is_not_remembered(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a"))
    connection = Connection(api, 12, monkeypatch)
    request = request_for(api, 12, 0)
    connection.fetch(request)
    connection.fetch(request)
    assert connection.reads == 2


def test_deleting_records_makes_the_next_fetch_read_the_new_log_start_offset(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b"))
    connection = Connection(api, 12, monkeypatch)
    request = request_for(api, 12, 2)  # at the end: nothing to read
    assert connection.fetch(request).responses[0].partitions[0].log_start_offset == 0
    api.call(
        delete_records,
        2,
        topics=[{"name": "orders", "partitions": [{"partition_index": 0, "offset": -1}]}],
        timeout=datetime.timedelta(seconds=5),
    )
    assert connection.fetch(request).responses[0].partitions[0].log_start_offset == 2
    assert connection.reads == 2


def test_a_topic_deleted_and_created_again_is_read_again(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    connection = Connection(api, 12, monkeypatch)
    request = request_for(api, 12, 0)
    connection.fetch(request)
    api.node.topics.delete_topic("orders")
    api.node.topics.create_topic("orders", 1, {})
    connection.fetch(request)
    assert connection.reads == 2


def test_an_equal_request_that_is_another_object_is_read_again(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    connection = Connection(api, 12, monkeypatch)
    connection.fetch(request_for(api, 12, 0))
    connection.fetch(request_for(api, 12, 0))
    assert connection.reads == 2


def test_under_an_authorizer_nothing_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    secured = ApiHarness(
        {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "true",
        }
    )
    try:
        secured.node.topics.create_topic("orders", 1, {})
        connection = Connection(secured, 12, monkeypatch)
        request = request_for(secured, 12, 0)
        connection.fetch(request)
        connection.fetch(request)
        assert connection.reads == 2
    finally:
        secured.close()
