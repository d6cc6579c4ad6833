"""One module per Kafka API, named as kio names it; each has API_KEY, VERSIONS and handle().

Every public module of this package that defines API_KEY is a handler: adding an API is adding
its module, and ApiVersions advertises it from the registry built on ALL.

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


def _handler_modules() -> list[ModuleType]:
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "context":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "API_KEY"):
            modules.append(module)
    return modules


ALL: list[ModuleType] = _handler_modules()
