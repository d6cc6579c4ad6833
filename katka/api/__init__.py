"""One module per Kafka API, named as kio names it; each has API_KEY, VERSIONS and handle().

Every public module of this package that defines API_KEY is a handler, and HANDLERS lists
them with their versions: ApiVersions advertises HANDLERS, and dispatch imports a handler's
module the first time its API is asked for, so a starting broker answers its first request
without importing sixty handlers (and the coordinator, transactions and admin code they
reach). Adding an API is adding its module and its line here; a test checks the two agree.

`handle(ctx, request, node)` gets the decoded kio request and the narrow katka.node.Node, and
returns one kind of thing: the kio response object for `ctx.api_version`. When the answer must
wait (a fetch long poll, a rebalance, an fsync) it comes as an awaitable of that same object;
the connection keeps its place in the reply order. Never None, never a KafkaError: domain errors
become error codes in the response (_partitions.py does it per partition). Whether the client
reads a response at all is the module's optional `expects_response(request)` (Produce with
acks=0 answers False; dispatch then sends nothing).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

# api key: (module in this package, versions answered)
HANDLERS: dict[int, tuple[str, range]] = {
    0: ("produce", range(0, 12)),
    1: ("fetch", range(0, 19)),
    2: ("list_offsets", range(0, 12)),
    3: ("metadata", range(0, 14)),
    8: ("offset_commit", range(0, 10)),
    9: ("offset_fetch", range(0, 10)),
    10: ("find_coordinator", range(0, 6)),
    11: ("join_group", range(0, 10)),
    12: ("heartbeat", range(0, 5)),
    13: ("leave_group", range(0, 6)),
    14: ("sync_group", range(0, 6)),
    15: ("describe_groups", range(0, 7)),
    16: ("list_groups", range(0, 6)),
    17: ("sasl_handshake", range(0, 2)),
    18: ("api_versions", range(0, 5)),
    19: ("create_topics", range(0, 8)),
    20: ("delete_topics", range(0, 7)),
    21: ("delete_records", range(0, 3)),
    22: ("init_producer_id", range(0, 6)),
    23: ("offset_for_leader_epoch", range(0, 5)),
    24: ("add_partitions_to_txn", range(0, 4)),
    25: ("add_offsets_to_txn", range(0, 4)),
    26: ("end_txn", range(0, 4)),
    27: ("write_txn_markers", range(0, 3)),
    28: ("txn_offset_commit", range(0, 4)),
    29: ("describe_acls", range(0, 4)),
    30: ("create_acls", range(0, 4)),
    31: ("delete_acls", range(0, 4)),
    32: ("describe_configs", range(0, 5)),
    33: ("alter_configs", range(0, 3)),
    34: ("alter_replica_log_dirs", range(0, 3)),
    35: ("describe_log_dirs", range(0, 5)),
    36: ("sasl_authenticate", range(0, 3)),
    37: ("create_partitions", range(0, 4)),
    42: ("delete_groups", range(0, 3)),
    43: ("elect_leaders", range(0, 3)),
    44: ("incremental_alter_configs", range(0, 2)),
    45: ("alter_partition_reassignments", range(0, 2)),
    46: ("list_partition_reassignments", range(0, 1)),
    47: ("offset_delete", range(0, 1)),
    48: ("describe_client_quotas", range(0, 2)),
    49: ("alter_client_quotas", range(0, 2)),
    50: ("describe_user_scram_credentials", range(0, 1)),
    51: ("alter_user_scram_credentials", range(0, 1)),
    55: ("describe_quorum", range(0, 3)),
    60: ("describe_cluster", range(0, 2)),
    61: ("describe_producers", range(0, 1)),
    65: ("describe_transactions", range(0, 1)),
    66: ("list_transactions", range(0, 3)),
    68: ("consumer_group_heartbeat", range(0, 2)),
    69: ("consumer_group_describe", range(0, 2)),
    74: ("list_config_resources", range(0, 2)),
    75: ("describe_topic_partitions", range(0, 1)),
    76: ("share_group_heartbeat", range(1, 2)),
    77: ("share_group_describe", range(1, 2)),
    78: ("share_fetch", range(1, 3)),
    79: ("share_acknowledge", range(1, 3)),
    90: ("describe_share_group_offsets", range(0, 2)),
    91: ("alter_share_group_offsets", range(0, 1)),
    92: ("delete_share_group_offsets", range(0, 1)),
}


def handler_modules() -> list[ModuleType]:
    """Every handler module, imported (tests, the fuzzer and /metrics' names use them all)."""
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "context":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "API_KEY"):
            modules.append(module)
    return modules


def __getattr__(name: str) -> Any:
    """`api.ALL` and `api.<handler module>`, imported on first use only."""
    if name == "ALL":
        modules = handler_modules()
        globals()["ALL"] = modules
        return modules
    if any(name == module for module, _ in HANDLERS.values()):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
