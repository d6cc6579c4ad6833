"""CRC-32C (Castagnoli), the record batch checksum, from the crc32c package's C function.

The package's __init__ reads its own version through importlib.metadata and imports its
command line (argparse, email, ...): about a seventh of a starting broker's import time, for
one function. The extension module is loaded by itself, under the name the package gives it,
so a later `import crc32c` finds it already loaded.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType


def _load_extension() -> ModuleType:
    name = "crc32c._crc32c"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("crc32c")  # finds it without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError("the crc32c package is not installed")
    finder = importlib.machinery.FileFinder(
        package.submodule_search_locations[0],
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
    )
    spec = finder.find_spec(name)
    if spec is None or spec.loader is None:
        import crc32c  # an install without the C extension: the package's own way

        return crc32c
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


crc32c = _load_extension().crc32c
