"""The QGIS plugin object: registers the ecozone Processing provider."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .provider import EcozoneProvider


class EcozonePlugin:
    """Adds the "ecozone" provider to the Processing toolbox (and to qgis_process)."""

    def __init__(self, iface: Any = None) -> None:
        self.iface = iface
        self.provider: EcozoneProvider | None = None

    def initProcessing(self) -> None:
        """Register the provider (called by QGIS, also without a GUI)."""
        if self.provider is None:
            self.provider = EcozoneProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Called by the QGIS desktop: the algorithms live in the Processing toolbox."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
