"""The "ecozone" Processing provider."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS

ICON = Path(__file__).resolve().with_name("icon.svg")


class EcozoneProvider(QgsProcessingProvider):
    """Provider "ecozone": site check, coverage, gaps, layer import, coordinates."""

    def id(self) -> str:  # noqa: D102
        return "ecozone"

    def name(self) -> str:  # noqa: D102
        return "ecozone 三线一单"

    def longName(self) -> str:  # noqa: D102
        return "ecozone 生态环境分区管控（三线一单）"

    def icon(self) -> QIcon:  # noqa: D102
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: D102
        return str(ICON)

    def loadAlgorithms(self) -> None:  # noqa: D102
        for cls in ALGORITHMS:
            self.addAlgorithm(cls())

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: D102
        return ["gpkg", "geojson", "shp", "csv"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: D102
        return "gpkg"
