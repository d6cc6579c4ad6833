"""Dynamic broker configs (AlterConfigs, IncrementalAlterConfigs): applied to the running
BrokerConfig and persisted next to the catalog, as Kafka keeps them in its metadata, so they
survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from katka.config import BrokerConfig
from katka.metadata.catalog import write_atomically

DYNAMIC_CONFIG_FILE = "broker-dynamic-configs.json"


class DynamicBrokerConfigs:
    def __init__(
        self, config: BrokerConfig, data_dir: Path | None, on_change: Callable[[], None]
    ) -> None:
        self.config = config
        self.path = data_dir / DYNAMIC_CONFIG_FILE if data_dir is not None else None
        self.on_change = on_change

    def load(self) -> None:
        if self.path is not None and self.path.exists():
            for name, value in json.loads(self.path.read_text()).items():
                self.config.set_dynamic(name, value)

    def replace(self, values: dict[str, str], validate_only: bool = False) -> None:
        """The new complete set of dynamic configs; a name left out goes back to its default."""
        check = BrokerConfig()
        for name, value in values.items():
            check.set_dynamic(name, value)
        if validate_only:
            return
        for name in self.config.dynamic:
            if name not in values:
                self.config.delete_dynamic(name)
        for name, value in values.items():
            self.config.set_dynamic(name, value)
        if self.path is not None:
            write_atomically(self.path, json.dumps(values).encode())
        self.on_change()
