"""The broker's config store: Kafka's defaults, overridden at start by a properties file,
flags and `-o name=value` (static), and at run time by (Incremental)AlterConfigs (dynamic,
persisted by the broker): for this broker (resource "1") or as the cluster-wide default
(resource "", kafka-configs --entity-default), which this broker's own dynamic value beats.
Every lookup says where its value comes from, as DescribeConfigs reports it."""

from __future__ import annotations

from collections.abc import Mapping

from katka.config.broker_configs import BROKER_CONFIGS
from katka.config.definitions import ConfigDef, ConfigSource
from katka.config.groups import validate_consumer_group_configs
from katka.config.topic_configs import TOPIC_CONFIGS
from katka.errors import ErrorCode, KafkaError

# (config name, value as set, where it was set), in Kafka's synonym order
SynonymEntry = tuple[str, str | None, ConfigSource]


class BrokerConfig:
    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._static: dict[str, str] = {}
        self._dynamic: dict[str, str] = {}
        self._dynamic_default: dict[str, str] = {}
        for name, value in (overrides or {}).items():
            self._static[name] = self.definition(name).validate(value)
        validate_consumer_group_configs(self)

    @staticmethod
    def definition(name: str) -> ConfigDef:
        definition = BROKER_CONFIGS.get(name)
        if definition is None:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown broker config: {name}")
        return definition

    def set_dynamic(self, name: str, value: str, cluster_default: bool = False) -> None:
        definition = self.definition(name)
        if definition.read_only:
            raise KafkaError(ErrorCode.invalid_config, f"Cannot update read-only config {name}")
        layer = self._dynamic_default if cluster_default else self._dynamic
        layer[name] = definition.validate(value)

    def delete_dynamic(self, name: str, cluster_default: bool = False) -> None:
        self.definition(name)
        (self._dynamic_default if cluster_default else self._dynamic).pop(name, None)

    @property
    def dynamic(self) -> dict[str, str]:
        return dict(self._dynamic)

    @property
    def dynamic_default(self) -> dict[str, str]:
        return dict(self._dynamic_default)

    def set_static(self, name: str, value: str) -> None:
        """For values the broker decides at start-up (the bound listener, the admin API)."""
        self._static[name] = value

    def ignored_in_use(self) -> list[str]:
        """Configs set at start that katka accepts but that change nothing on one node."""
        return sorted(name for name in self._static if BROKER_CONFIGS[name].ignored)

    def _layers(self) -> tuple[tuple[dict[str, str], ConfigSource], ...]:
        """Where a value can be set, in Kafka's precedence order."""
        return (
            (self._dynamic, ConfigSource.DYNAMIC_BROKER_CONFIG),
            (self._dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
            (self._static, ConfigSource.STATIC_BROKER_CONFIG),
        )

    def _set(self, name: str) -> tuple[str, ConfigSource] | None:
        for layer, source in self._layers():
            if name in layer:
                return layer[name], source
        return None

    def value_and_source(self, name: str) -> tuple[str | None, ConfigSource]:
        """The value in effect: this name if set, else the first synonym set (scaled, as
        log.retention.hours gives log.retention.ms), else the first default found that way."""
        definition = self.definition(name)
        chain = ((name, 1), *((s.name, s.scale) for s in definition.synonyms))
        for candidate, scale in chain:
            found = self._set(candidate)
            if found is not None:
                return _scaled(found[0], scale), found[1]
        for candidate, scale in chain:
            default = BROKER_CONFIGS[candidate].default
            if default is not None:
                return _scaled(default, scale), ConfigSource.DEFAULT_CONFIG
        return None, ConfigSource.DEFAULT_CONFIG

    def get(self, name: str) -> str | None:
        return self.value_and_source(name)[0]

    def source(self, name: str) -> ConfigSource:
        return self.value_and_source(name)[1]

    def is_default(self, name: str) -> bool:
        return self.source(name) is ConfigSource.DEFAULT_CONFIG

    def get_int(self, name: str) -> int:
        value = self.get(name)
        assert value is not None, name
        return int(value)

    def get_bool(self, name: str) -> bool:
        return (self.get(name) or "").lower() == "true"

    def synonyms(self, name: str) -> list[SynonymEntry]:
        """Every place this config's value could come from that holds one (DescribeConfigs
        include_synonyms), as Kafka lists them: by source (this broker's dynamic values, the
        cluster default, the static ones, the defaults), each source in synonym order, and
        nothing before the first entry of this very name (so retention.ms shows no
        log.retention.hours default while log.retention.ms is unset, as in Kafka)."""
        definition = self.definition(name)
        candidates = (name, *(s.name for s in definition.synonyms))
        entries: list[SynonymEntry] = [
            (candidate, layer[candidate], source)
            for layer, source in self._layers()
            for candidate in candidates
            if candidate in layer
        ]
        entries += [
            (candidate, default, ConfigSource.DEFAULT_CONFIG)
            for candidate in candidates
            if (default := BROKER_CONFIGS[candidate].default) is not None
        ]
        while entries and entries[0][0] != name:
            entries.pop(0)
        return entries

    def topic_config_value(
        self, name: str, topic_overrides: Mapping[str, str]
    ) -> tuple[str | None, ConfigSource]:
        """The effective value of a topic config and where it comes from."""
        if name in topic_overrides:
            return topic_overrides[name], ConfigSource.TOPIC_CONFIG
        definition = TOPIC_CONFIGS[name]
        for synonym in definition.synonyms:
            return self.value_and_source(synonym.name)
        return definition.default, ConfigSource.DEFAULT_CONFIG

    def topic_synonyms(self, name: str, topic_overrides: Mapping[str, str]) -> list[SynonymEntry]:
        """The topic value (if set) then its broker synonyms, in Kafka's order."""
        entries: list[SynonymEntry] = []
        if name in topic_overrides:
            entries.append((name, topic_overrides[name], ConfigSource.TOPIC_CONFIG))
        for synonym in TOPIC_CONFIGS[name].synonyms:
            entries.extend(self.synonyms(synonym.name))
        return entries


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in configs.items():
        definition = TOPIC_CONFIGS.get(name)
        if definition is None:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
        if value is None:
            raise KafkaError(ErrorCode.invalid_config, f"Null value not supported for {name}")
        result[name] = definition.validate(value)
    return result


def _scaled(value: str, scale: int) -> str:
    """A synonym in coarser units (hours) as this config's (ms); negative stays -1 (unlimited),
    as Kafka reads log.retention.hours=-1."""
    if scale == 1:
        return value
    number = int(value) * scale
    return str(number if number >= 0 else -1)
