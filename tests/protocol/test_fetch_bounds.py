"""Fetch's hand-written bounds walk (fetch_bounds.py) decides as the generic walk does."""

from __future__ import annotations

import datetime
import io
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.index import load_request_schema
from kio.serial import entity_writer
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveField,
    PrimitiveTupleField,
    classify_field,
    get_schema_field_type,
    is_optional,
)

from katka.protocol.bounds import BoundsError, check_bounds
from katka.protocol.fetch_bounds import VERSIONS, check_fetch_bounds

FETCH_KEY = 1
EXAMPLES = [pytest.param(8, id="few"), pytest.param(120, id="many", marks=pytest.mark.slow)]

PRIMITIVES = {
    "int8": st.integers(-(2**7), 2**7 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "timedelta_i32": st.integers(0, 2**31 - 1).map(lambda ms: datetime.timedelta(milliseconds=ms)),
    "uuid": st.uuids(),
    "string": st.text(alphabet="abcé.-_0", max_size=12),
}


def _values(field: Any) -> st.SearchStrategy[Any]:
    kind = classify_field(field)
    if isinstance(kind, PrimitiveField):
        values = PRIMITIVES[get_schema_field_type(field)]
    elif isinstance(kind, PrimitiveTupleField):
        values = st.lists(PRIMITIVES[get_schema_field_type(field)], max_size=3).map(tuple)
    elif isinstance(kind, EntityField):
        values = entities(kind.type_)
    else:
        assert isinstance(kind, EntityTupleField)
        values = st.lists(entities(kind.type_), max_size=3).map(tuple)
    return st.none() | values if is_optional(field) else values


def entities(entity_type: type) -> st.SearchStrategy[Any]:
    """Any entity of this type, its optional (and tagged) fields sometimes set."""
    return st.builds(entity_type, **{f.name: _values(f) for f in fields(entity_type)})


def body(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def refused(check: Any, data: bytes) -> bool:
    try:
        check(data)
    except BoundsError:
        return True
    return False


@pytest.mark.parametrize("examples", EXAMPLES)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_fetch_bounds_walk_refuses_what_the_generic_walk_refuses(
    version: int, examples: int
) -> None:
    """Whole requests pass both walks; truncated and corrupted ones fail both or neither."""
    schema = load_request_schema(FETCH_KEY, version)

    def hand(data: bytes) -> None:
        check_fetch_bounds(schema, data, 0, version)

    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        whole = body(data.draw(entities(schema)))
        assert not refused(hand, whole)
        cut = data.draw(st.integers(0, len(whole)))
        spliced = data.draw(st.binary(max_size=6))
        at = data.draw(st.integers(0, len(whole)))
        for mutated in (whole[:cut], whole[:at] + spliced + whole[at + len(spliced) :]):
            assert refused(hand, mutated) == refused(lambda d: check_bounds(schema, d, 0), mutated)

    check()


def test_a_claimed_array_larger_than_the_frame_is_refused() -> None:
    """A v11 request claiming 2**31-1 topics in a few bytes (kio would reserve room for them)."""
    frame = bytes(25) + (2**31 - 1).to_bytes(4, "big") + bytes(4)
    with pytest.raises(BoundsError):
        check_fetch_bounds(load_request_schema(FETCH_KEY, 11), frame, 0, 11)


def test_the_walk_covers_exactly_the_fetch_versions_kio_generates() -> None:
    for version in VERSIONS:
        assert load_request_schema(FETCH_KEY, version)
    assert list(VERSIONS) == list(range(4, 19))
