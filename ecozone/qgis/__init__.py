"""ecozone's QGIS plugin: the "ecozone" Processing provider (see docs/qgis.md).

Copy (or zip) this folder into QGIS's plugin folder, e.g.
``~/.local/share/QGIS/QGIS3/profiles/default/python/plugins/ecozone_qgis``. QGIS
imports it on the system Python; the work runs in ecozone's own Python through
``worker.py`` (see ``runner.py`` for why and how it is found). Importing this
package needs no QGIS: ``classFactory`` imports the QGIS parts when QGIS calls it.
"""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any) -> Any:
    """Return the plugin object QGIS loads."""
    from .plugin import EcozonePlugin

    return EcozonePlugin(iface)
