"""Helpers every handler uses to build a response for the request's own version.

kio generates one module per API version; fields differ between versions. `make()` keeps only
the fields the chosen version has, so a handler states every value once and the version decides
what goes on the wire. A name that no version of the message has is a handler's typo, and
`make()` refuses it rather than dropping it silently.
"""

from __future__ import annotations

import datetime
import importlib
import pkgutil
import re
from functools import cache
from typing import Any, TypeVar

from kio.index import load_payload_module
from kio.static.constants import EntityType

from katka.api.context import RequestContext
from katka.protocol.old_version_keys import OLD_VERSION_KEYS

T = TypeVar("T")

# make()'s check for a handler's typo imports every version of the API the first time a
# field is dropped (1-2 s of a loaded machine's CPU for Fetch or Metadata at an old version,
# in the middle of a client's first request). Tests keep it on; `katka serve` turns it off.
check_field_names = True

ZERO = datetime.timedelta(0)


@cache
def _response_module(api_key: int, api_version: int) -> Any:
    if (api_key, api_version) in OLD_VERSION_KEYS:
        from katka.protocol import old_versions

        return old_versions.entities(api_key, api_version, True)
    return load_payload_module(api_key, api_version, EntityType.response)


def response_module(ctx: RequestContext) -> Any:
    return _response_module(ctx.api_key, ctx.api_version)


@cache
def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(cls.__dataclass_fields__)


@cache
def _field_names_in_any_version(cls: Any) -> frozenset[str] | None:
    """Every field of the message named cls.__name__ in any version of its API and entity
        (kio lays modules out as kio.schema.<api>.v<N>.<entity>), old versions katka describes
    itself included; None when unchecked."""
    if not cls.__module__.startswith("kio.schema."):
        # An old version katka describes itself (protocol/old_versions.py): its handler builds
        # the kio versions' fields too, so only the kio classes are checked.
        return None
    api_package, _version, entity = cls.__module__.rsplit(".", 2)
    names: set[str] = set()
    for info in pkgutil.iter_modules(importlib.import_module(api_package).__path__):
        if not re.fullmatch(r"v\d+", info.name):
            continue
        try:
            module = importlib.import_module(f"{api_package}.{info.name}.{entity}")
        except ModuleNotFoundError:
            continue
        same = getattr(module, cls.__name__, None)
        if same is not None:
            names.update(same.__dataclass_fields__)
    from katka.protocol import old_versions

    for api_key, api_version in OLD_VERSION_KEYS:
        if api_key == cls.__api_key__:
            old = old_versions.entities(api_key, api_version, entity == "response")
            same = getattr(old, cls.__name__, None)
            if same is not None:
                names.update(same.__dataclass_fields__)
    return frozenset(names)


def make(cls: type[T], **values: Any) -> T:
    names = _field_names(cls)  # type: ignore[arg-type]
    if names.issuperset(values):
        return cls(**values)
    if not check_field_names:
        return cls(**{name: value for name, value in values.items() if name in names})
    known = _field_names_in_any_version(cls)  # type: ignore[arg-type]
    unknown = set(values) - known if known is not None else set()
    if unknown:
        raise TypeError(f"no version of {cls.__name__} has the field(s) {sorted(unknown)}")
    return cls(**{name: value for name, value in values.items() if name in names})


def make_from(cls: type[T], view: Any, **values: Any) -> T:
    """make() from a coordinator view whose attributes are named as the message's fields: every
    field of cls the view has is copied, `values` add the rest or override (nested messages)."""
    copied = {
        name: getattr(view, name)
        for name in _field_names(cls)  # type: ignore[arg-type]
        if name not in values and hasattr(view, name)
    }
    return make(cls, **copied, **values)


def millis(value: datetime.timedelta) -> int:
    return int(value.total_seconds() * 1000)


def timedelta_ms(ms: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=ms)


def datetime_ms(ms: int) -> datetime.datetime | None:
    if ms < 0:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
