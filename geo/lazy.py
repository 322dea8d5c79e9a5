"""Lazy package exports (PEP 562), so importing a package costs only what is used.

``import geo.errors`` runs ``geo/__init__.py`` first; if that imported every public
function eagerly, the command line would load geopandas, pyproj and pandas just to
print ``ecozone --help``. Each package ``__init__`` therefore maps its public names
to the modules that define them and imports a module on first attribute access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for a package that exports names lazily.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Public name → module path defining it (e.g. ``"read_vector": "geo.io"``).

    Returns
    -------
    tuple
        Module-level ``__getattr__`` and ``__dir__`` functions.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            # ``import geo`` then ``geo.crs``: eager packages had their submodules loaded
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg) from None
        value = getattr(importlib.import_module(module), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
