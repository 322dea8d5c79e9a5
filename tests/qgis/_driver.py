"""Run inside Debian's QGIS Python (``/usr/bin/python3``): the QGIS half of tests/qgis.

``python3 _driver.py SPEC.json RESULT.json`` starts a headless QgsApplication
(``QT_QPA_PLATFORM=offscreen``), loads the plugin folder ``ecozone/qgis`` the way
QGIS loads an installed plugin (a package of its own name, ``classFactory``), runs
the algorithms listed in the spec, inspects the files the venv side wrote (styles,
project, raster, File Geodatabase) and renders a screenshot. It writes what it saw
to RESULT.json; the assertions live in the pytest modules (the venv side), which
compare it with the ``ecozone`` command's output. This file imports no ecozone.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

PLUGIN = Path(__file__).resolve().parents[2] / "ecozone" / "qgis"


class Feedback(QgsProcessingFeedback):
    """Records progress and messages; cancels itself after ``cancel_after`` progress calls."""

    def __init__(self, cancel_after: int | None = None) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.texts: list[str] = []
        self.errors: list[str] = []
        self.cancel_after = cancel_after
        self.progressChanged.connect(self._on_progress)

    def _on_progress(self, value: float) -> None:
        self.progress.append(float(value))
        if self.cancel_after is not None and len(self.progress) >= self.cancel_after:
            self.cancel()

    def setProgressText(self, text: str) -> None:
        self.texts.append(text)

    def reportError(self, error: str, fatalError: bool = False) -> None:
        self.errors.append(error)

    def pushInfo(self, info: str) -> None:
        self.texts.append(info)

    def pushWarning(self, warning: str) -> None:
        self.texts.append(warning)


def load_plugin():
    spec = importlib.util.spec_from_file_location(
        "ecozone_qgis", PLUGIN / "__init__.py", submodule_search_locations=[str(PLUGIN)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ecozone_qgis"] = module
    spec.loader.exec_module(module)
    plugin = module.classFactory(None)
    plugin.initProcessing()
    return plugin


def run_algorithm(alg_id: str, params: dict, cancel_after: int | None = None) -> dict:
    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = Feedback(cancel_after)
    for key, value in params.items():  # {"sink": path}: an output opened when done, as
        if isinstance(value, dict) and "sink" in value:  # the dialog's checkbox asks
            params[key] = QgsProcessingOutputLayerDefinition(value["sink"], QgsProject.instance())
    t0 = time.perf_counter()
    try:
        results, ok = alg.run(params, context, feedback)
    except QgsProcessingException as exc:
        results, ok = {}, False
        feedback.errors.append(str(exc))
    return {
        "ok": bool(ok),
        "results": {k: v for k, v in (results or {}).items() if isinstance(v, str | int | float)},
        "progress": feedback.progress,
        "texts": feedback.texts,
        "errors": feedback.errors,
        "seconds": time.perf_counter() - t0,
        "to_load": list(context.layersToLoadOnCompletion().keys()),
    }


def describe_vector(uri: str) -> dict:
    layer = QgsVectorLayer(uri, "test", "ogr")
    out = {"valid": layer.isValid(), "count": layer.featureCount() if layer.isValid() else 0}
    renderer = layer.renderer() if layer.isValid() else None
    if renderer is not None:
        out["renderer"] = renderer.type()
        if renderer.type() == "categorizedSymbol":
            out["attr"] = renderer.classAttribute()
            out["categories"] = [
                [c.value(), c.label(), c.symbol().color().name()] for c in renderer.categories()
            ]
        elif renderer.type() == "singleSymbol":
            out["color"] = renderer.symbol().color().name()
    if layer.isValid():
        out["aliases"] = {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())}
    return out


def describe_project(path: str) -> dict:
    project = QgsProject.instance()
    project.clear()
    ok = project.read(path)
    ext = project.viewSettings().defaultViewExtent()
    layers = [
        {
            "name": lyr.name(),
            "valid": lyr.isValid(),
            "renderer": lyr.renderer().type() if lyr.renderer() else None,
            "count": lyr.featureCount(),
        }
        for lyr in project.layerTreeRoot().layerOrder()
    ]
    out = {
        "read": ok,
        "crs": project.crs().authid(),
        "extent": [ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()],
        "extent_crs": ext.crs().authid(),
        "layers": layers,
    }
    project.clear()
    return out


def describe_raster(path: str) -> dict:
    layer = QgsRasterLayer(path, "raster", "gdal")
    renderer = layer.renderer()
    out = {"valid": layer.isValid(), "renderer": renderer.type() if renderer else None}
    if renderer is not None and renderer.type() == "paletted":
        out["classes"] = [[c.value, c.color.name(), c.label] for c in renderer.classes()]
    return out


def render(layers: list[str], context: list[str], png: str) -> dict:
    """Render ``layers`` (the extent) over ``context`` layers, styled, to a PNG."""
    from qgis.core import QgsCoordinateTransform

    shown = []
    for i, uri in enumerate([*layers, *context]):
        lyr = QgsVectorLayer(uri, f"layer{i}", "ogr")
        if lyr.isValid():
            shown.append(lyr)
    settings = QgsMapSettings()
    settings.setLayers(shown)  # first is drawn on top
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4548"))
    extent = None
    for lyr in shown[: len(layers)]:
        tr = QgsCoordinateTransform(lyr.crs(), settings.destinationCrs(), QgsProject.instance())
        e = tr.transformBoundingBox(lyr.extent())
        if extent is None:
            extent = e
        else:
            extent.combineExtentWith(e)
    if extent is not None:
        extent.scale(1.2)
        settings.setExtent(extent)
    settings.setOutputSize(QSize(1200, 900))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    return {"saved": bool(image.save(png, "PNG")), "layers": len(shown)}


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    app = QgsApplication([], False)
    app.initQgis()
    out: dict = {"qgis": __import__("qgis.core").core.Qgis.QGIS_VERSION}
    try:
        plugin = load_plugin()  # keep it: the provider's Python side must stay alive
        provider = QgsApplication.processingRegistry().providerById("ecozone")
        out["provider"] = provider.name() if provider else None
        out["algorithms"] = sorted(a.id() for a in provider.algorithms()) if provider else []
        for key, job in spec.get("runs", {}).items():
            out[key] = run_algorithm(job["alg"], job["params"], job.get("cancel_after"))
        for key, uri in spec.get("vectors", {}).items():
            out[key] = describe_vector(uri)
        for key, path in spec.get("projects", {}).items():
            out[key] = describe_project(path)
        for key, path in spec.get("rasters", {}).items():
            out[key] = describe_raster(path)
        if spec.get("render"):
            r = spec["render"]
            out["render"] = render(r["layers"], r.get("context", []), r["png"])
        plugin.unload()
    except Exception:  # the pytest side shows it
        out["traceback"] = traceback.format_exc()
    Path(result_path).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
