"""Broker and topic configs with Kafka's names, types, defaults and valid values.

definitions.py holds the one shape (ConfigDef, rules as data); broker_configs.py and
topic_configs.py the tables; store.py the broker's values and where each comes from.
"""

from katka.config.broker_configs import BROKER_CONFIGS
from katka.config.definitions import ConfigDef, ConfigSource, ConfigType, config_list
from katka.config.store import BrokerConfig, validate_topic_configs
from katka.config.topic_configs import TOPIC_CONFIGS

__all__ = [
    "BROKER_CONFIGS",
    "TOPIC_CONFIGS",
    "BrokerConfig",
    "ConfigDef",
    "ConfigSource",
    "ConfigType",
    "config_list",
    "validate_topic_configs",
]
