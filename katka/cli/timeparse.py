"""Times and durations as users type them: ISO 8601, `-1h` style, Kafka's PnDTnHnMnS.

Pure functions over strings and `now_ms`, so the rules are tested without a clock.
"""

from __future__ import annotations

import re
from datetime import datetime

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SHORT = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_ISO_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)


class TimeFormatError(ValueError):
    pass


def parse_duration_ms(text: str) -> int:
    """A non-negative duration: `1h30m`, `90s`, `250ms`, `2d`, or ISO 8601 `P1DT2H3M4S`.

    A leading `-` is accepted and ignored (`-1h` and `1h` both mean one hour back when the
    caller subtracts the duration from now)."""
    value = text.strip().lstrip("-+")
    if not value:
        raise TimeFormatError(f"empty duration {text!r}")
    if value[:1] in "pP":
        match = _ISO_DURATION.fullmatch(value)
        if match is None or not any(match.groupdict().values()):
            raise TimeFormatError(f"invalid ISO 8601 duration {text!r} (expected PnDTnHnMnS)")
        parts = {unit: float(amount or 0) for unit, amount in match.groupdict().items()}
        return int(
            parts["d"] * _UNITS_MS["d"]
            + parts["h"] * _UNITS_MS["h"]
            + parts["m"] * _UNITS_MS["m"]
            + parts["s"] * _UNITS_MS["s"]
        )
    position, total = 0, 0.0
    for match in _SHORT.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS_MS[match.group(2)]
        position = match.end()
    if position != len(value) or position == 0:
        raise TimeFormatError(
            f"invalid duration {text!r} (expected e.g. 1h, 30m, 1h30m, 90s, 2d or P1DT2H)"
        )
    return int(total)


def parse_time_ms(text: str, now_ms: int) -> int:
    """A point in time as epoch milliseconds.

    Accepts `now`, relative times back from now (`-1h`, `-15m`, `-1h30m`, `-P1D`), ISO 8601
    date-times (`2024-05-01T12:00:00Z`, `2024-05-01 12:00`, `2024-05-01`; without a zone
    the local time zone is meant, as Kafka's tools do) and epoch milliseconds (13+ digits).
    """
    value = text.strip()
    if value.lower() == "now":
        return now_ms
    if value.startswith("-"):
        return now_ms - parse_duration_ms(value)
    if value.isdigit() and len(value) >= 12:
        return int(value)
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise TimeFormatError(
            f"invalid time {text!r} (expected ISO 8601 like 2024-05-01T12:00:00Z, "
            "a relative time like -1h or -30m, or epoch milliseconds)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as kafka-consumer-groups.sh reads it
    return int(moment.timestamp() * 1000)


def format_time_ms(timestamp_ms: int | None) -> str:
    """Local ISO 8601 with milliseconds; '-' when unknown."""
    if timestamp_ms is None or timestamp_ms < 0:
        return "-"
    moment = datetime.fromtimestamp(timestamp_ms / 1000).astimezone()
    return moment.isoformat(timespec="milliseconds")


def format_duration_ms(duration_ms: int | None) -> str:
    """Compact human duration: 850ms, 12.3s, 4m05s, 2h03m, 3d04h; '-' when unknown."""
    if duration_ms is None:
        return "-"
    if duration_ms < 1000:
        return f"{duration_ms}ms"
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{second:02d}s"
    hours, minute = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minute:02d}m"
    days, hour = divmod(hours, 24)
    return f"{days}d{hour:02d}h"
