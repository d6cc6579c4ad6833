"""Helpers every handler uses to build a response for the request's own version.

kio generates one module per API version; fields differ between versions. `make()` keeps only
the fields the chosen version has, so a handler states every value once and the version decides
what goes on the wire.
"""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any, TypeVar

from kio.index import load_payload_module
from kio.static.constants import EntityType

from katka.api.context import RequestContext
from katka.protocol import old_versions

T = TypeVar("T")

ZERO = datetime.timedelta(0)


@cache
def _response_module(api_key: int, api_version: int) -> Any:
    if (api_key, api_version) in old_versions.OLD_VERSIONS:
        return old_versions.entities(api_key, api_version, True)
    return load_payload_module(api_key, api_version, EntityType.response)


def response_module(ctx: RequestContext) -> Any:
    return _response_module(ctx.api_key, ctx.api_version)


@cache
def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(cls.__dataclass_fields__)


def make(cls: type[T], **values: Any) -> T:
    names = _field_names(cls)  # type: ignore[arg-type]
    return cls(**{name: value for name, value in values.items() if name in names})


def millis(value: datetime.timedelta) -> int:
    return int(value.total_seconds() * 1000)


def timedelta_ms(ms: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=ms)


def datetime_ms(ms: int) -> datetime.datetime | None:
    if ms < 0:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
