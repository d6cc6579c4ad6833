"""The one shape of a config definition, for broker and topic configs alike.

A definition holds Kafka's name, type, default and validity rule as data, so the broker's
start-up check, AlterConfigs and DescribeConfigs read the same table. Values are kept as the
strings Kafka's protocol carries; `validate` checks one against its type and rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from katka.errors import ErrorCode, KafkaError

LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


class ConfigType(enum.IntEnum):
    """Values as DescribeConfigs v3+ reports them in config_type."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


# Short names the definition tables (broker_configs.py, topic_configs.py) are written with.
BOOLEAN, STRING, INT = ConfigType.BOOLEAN, ConfigType.STRING, ConfigType.INT
SHORT, LONG, DOUBLE, LIST = ConfigType.SHORT, ConfigType.LONG, ConfigType.DOUBLE, ConfigType.LIST
CLASS, PASSWORD = ConfigType.CLASS, ConfigType.PASSWORD


class ConfigSource(enum.IntEnum):
    """DescribeConfigs config_source values."""

    TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3  # the cluster-wide default (kafka-configs --entity-default)
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


_INTEGER_BOUNDS = {
    ConfigType.SHORT: (-(2**15), 2**15 - 1),
    ConfigType.INT: (-(2**31), INT_MAX),
    ConfigType.LONG: (-(2**63), LONG_MAX),
}


@dataclass(frozen=True, slots=True)
class AtLeast:
    """Kafka's Range.atLeast."""

    minimum: float

    def explain(self, value: float) -> str | None:
        return None if value >= self.minimum else f"Value must be at least {_show(self.minimum)}"


@dataclass(frozen=True, slots=True)
class Between:
    """Kafka's Range.between (inclusive)."""

    minimum: float
    maximum: float

    def explain(self, value: float) -> str | None:
        if self.minimum <= value <= self.maximum:
            return None
        return f"Value must be between {_show(self.minimum)} and {_show(self.maximum)}"


@dataclass(frozen=True, slots=True)
class OneOf:
    """Kafka's ValidString.in for strings, ValidList.in for lists (every item one of these)."""

    values: tuple[str, ...]

    def explain(self, value: str) -> str | None:
        if value in self.values:
            return None
        return f"String must be one of: {', '.join(self.values)}"


Rule = AtLeast | Between | OneOf


@dataclass(frozen=True, slots=True)
class Synonym:
    """Another config that supplies this one's value when it is unset, times `scale`
    (log.retention.hours -> log.retention.ms is scale 3,600,000)."""

    name: str
    scale: int = 1


@dataclass(frozen=True, slots=True)
class ConfigDef:
    """One broker or topic config.

    read_only: a broker config that only a restart changes (Kafka's static-only configs).
    ignored: accepted, validated and reported, but nothing in katka reads it (cluster and KRaft
    settings, thread pools, replication on a one-node broker); a start-up warning lists them.
    synonyms: where the value comes from while this name is unset, first set one wins; a topic
    config's synonym is its broker default (retention.ms -> log.retention.ms).
    """

    name: str
    type: ConfigType
    default: str | None
    valid: Rule | None = None
    read_only: bool = False
    ignored: bool = False
    synonyms: tuple[Synonym, ...] = ()
    why: str = ""  # a katka restriction, said in the refusal

    def validate(self, value: str) -> str:
        """The value, trimmed as Kafka trims it, if it parses as this config's type and obeys
        its rule; raises KafkaError(INVALID_CONFIG) with Kafka's wording otherwise."""
        problem = self._explain(value)
        if problem is not None:
            raise KafkaError(
                ErrorCode.invalid_config,
                f"Invalid value {value} for configuration {self.name}: {problem}",
            )
        return value.strip()

    def _explain(self, value: str) -> str | None:
        text = value.strip()
        if self.type in _INTEGER_BOUNDS:
            low, high = _INTEGER_BOUNDS[self.type]
            try:
                number: float = int(text)
            except ValueError:
                return f"Not a number of type {self.type.name}"
            if not low <= number <= high:
                return f"Not a number of type {self.type.name}"
        elif self.type is ConfigType.DOUBLE:
            try:
                number = float(text)
            except ValueError:
                return "Not a number of type DOUBLE"
        elif self.type is ConfigType.BOOLEAN:
            if text.lower() not in ("true", "false"):
                return "Expected value to be either true or false"
            return None
        elif self.type is ConfigType.LIST:
            if isinstance(self.valid, OneOf):
                for item in config_list(text):
                    problem = self.valid.explain(item)
                    if problem is not None:
                        return problem + (f" ({self.why})" if self.why else "")
            return None
        else:
            if isinstance(self.valid, OneOf):
                problem = self.valid.explain(text)
                return None if problem is None else problem + (f" ({self.why})" if self.why else "")
            return None
        if isinstance(self.valid, AtLeast | Between):
            return self.valid.explain(number)
        return None


def config_list(value: str | None) -> list[str]:
    """A LIST config's items: comma-separated, blanks dropped."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def by_name(definitions: list[ConfigDef]) -> dict[str, ConfigDef]:
    return {definition.name: definition for definition in definitions}


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
