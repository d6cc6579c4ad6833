"""One module per Kafka API, named as kio names it; each has API_KEY, VERSIONS and handle().

Every public module of this package that defines API_KEY is a handler: adding an API is adding
its module, and ApiVersions advertises it from the registry built on ALL.
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
