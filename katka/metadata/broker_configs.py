"""Dynamic broker configs (AlterConfigs, IncrementalAlterConfigs): applied to the running
BrokerConfig and persisted next to the catalog, as Kafka keeps them in its metadata, so they
survive a restart. Two sets: this broker's (resource "1") and the cluster-wide default
(resource "", kafka-configs --entity-default). A new data directory starts with the cluster
default min.insync.replicas=1, which a Kafka 4.x controller writes when it formats a cluster
with eligible leader replicas (KIP-966), so kafka-configs and kafka-topics show the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from katka.config import BrokerConfig
from katka.metadata.catalog import write_atomically

DYNAMIC_CONFIG_FILE = "broker-dynamic-configs.json"
DYNAMIC_DEFAULT_CONFIG_FILE = "cluster-default-configs.json"
INITIAL_CLUSTER_DEFAULTS = {"min.insync.replicas": "1"}


class DynamicBrokerConfigs:
    def __init__(
        self, config: BrokerConfig, data_dir: Path | None, on_change: Callable[[], None]
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.on_change = on_change

    def _path(self, cluster_default: bool) -> Path | None:
        if self.data_dir is None:
            return None
        return self.data_dir / (
            DYNAMIC_DEFAULT_CONFIG_FILE if cluster_default else DYNAMIC_CONFIG_FILE
        )

    def load(self) -> None:
        """The persisted sets; a data directory without a cluster-default file gets Kafka's
        initial one (written, so that deleting it sticks)."""
        for cluster_default in (False, True):
            path = self._path(cluster_default)
            if path is not None and path.exists():
                for name, value in json.loads(path.read_text()).items():
                    self.config.set_dynamic(name, value, cluster_default)
            elif cluster_default:
                self.replace(dict(INITIAL_CLUSTER_DEFAULTS), cluster_default=True)

    def current(self, cluster_default: bool) -> dict[str, str]:
        return self.config.dynamic_default if cluster_default else self.config.dynamic

    def replace(
        self, values: dict[str, str], validate_only: bool = False, cluster_default: bool = False
    ) -> None:
        """The new complete set of dynamic configs (this broker's, or the cluster default);
        a name left out goes back to the value below it."""
        check = BrokerConfig()
        for name, value in values.items():
            check.set_dynamic(name, value, cluster_default)
        if validate_only:
            return
        for name in self.current(cluster_default):
            if name not in values:
                self.config.delete_dynamic(name, cluster_default)
        for name, value in values.items():
            self.config.set_dynamic(name, value, cluster_default)
        path = self._path(cluster_default)
        if path is not None:
            write_atomically(path, json.dumps(values).encode())
        self.on_change()
