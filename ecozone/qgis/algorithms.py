"""ecozone's Processing algorithms: thin forms over the ecozone worker.

Each algorithm turns its QGIS parameters into the worker's JSON parameters (the
input layer as a GeoPackage path, QGIS's own export when it is not one already),
runs the worker (``runner.run_worker``: progress into the feedback, killed on
cancel) and returns the files it wrote. No domain logic here; text parameters take
the same values as the ``ecozone`` command's options, so ``qgis_process`` reads
like the CLI: ``qgis_process run ecozone:check -- INPUT=sites.gpkg PACK=<pack>
OUTPUT=out.gpkg``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
)

from .runner import EcozoneRunError, run_worker

_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".csv")
_PACK_HELP = "规则包 Rule pack (empty: the default_pack setting)"
#: The tool's parameters that give what a check note asks for (zoning.check.notes.ASKS).
#: The flags of zoning.project.FLAGS (kept literal: QGIS's Python cannot import the
#: engine; tests/qgis checks the list is whole). Chinese names are accepted too.
_FLAGS_HELP = (
    "项目特征 Flags, comma-separated (中文名亦可, e.g. 钢铁,化工): wastewater, vocs, sewage, "
    "garbage, toilets, manure, nox, heavy_metals, red_mud, manganese_slag, steel, coking, "
    "chemical, tailings"
)
#: The limited human activities of zoning.project.ACTIVITIES (literal, as above).
_ACTIVITY_HELP = (
    "有限人为活动 Limited human activity (自然资发〔2022〕142号; 中文名亦可, e.g. 线性基础设施): "
    "patrol_management, research_monitoring, disaster_relief, military_defense, "
    "residents_livelihood, archaeology, eco_tourism, linear_infrastructure, "
    "water_supply_facility, facility_maintenance, geological_survey, ecological_restoration, "
    "border_works"
)
_PARAMETER_FOR = {"coords": "COORDS", "industry_code": "INDUSTRY", "flags": "FLAGS"}
_COORDS_HELP = (
    "输入经纬度的坐标系 / what the input's lon/lat are: wgs84 | cgcs2000 | gcj02 "
    "(高德/腾讯 AMap) | bd09 (百度 Baidu); projected layers use their own CRS"
)


class _EcozoneAlgorithm(QgsProcessingAlgorithm):
    """Shared plumbing: the store parameter, the input as a file, the worker call."""

    _name = ""
    _title = ""
    _help = ""

    def name(self) -> str:
        return self._name

    def displayName(self) -> str:
        return self._title

    def group(self) -> str:
        return "三线一单 zoning"

    def groupId(self) -> str:
        return "zoning"

    def shortHelpString(self) -> str:
        return self._help

    def createInstance(self) -> QgsProcessingAlgorithm:
        return type(self)()

    def _add_store(self) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                "STORE",
                "图层库 Layer store (.gpkg; default $ECOZONE_STORE or the user store)",
                extension="gpkg",
                optional=True,
            )
        )

    def _input_file(
        self, parameters: dict, context: QgsProcessingContext, feedback: Any
    ) -> tuple[str, str]:
        path, layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, "INPUT", context, ["gpkg"], "gpkg", feedback
        )
        if not path:
            msg = "INPUT: 无法读取输入图层 / the input layer cannot be read"
            raise QgsProcessingException(msg)
        return path, layer or ""

    def _vector_out(self, parameters: dict, context: QgsProcessingContext, stem: str) -> str:
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        if not out or not out.lower().endswith(_VECTOR_SUFFIXES):
            out = QgsProcessingUtils.generateTempFilename(f"{stem}.gpkg")
        return out

    @staticmethod
    def _written_layer(out: str, context: QgsProcessingContext) -> str:
        """The layer ecozone wrote to ``out``, as the URI QGIS loads and the result names.

        A GeoPackage may hold other layers (a project's: ecozone keeps them), and QGIS
        given the bare path loads its first layer: name the one written, the file's
        stem, also in place of the bare path among the layers loaded on completion.
        """
        if not out.lower().endswith(".gpkg"):
            return out
        uri = f"{out}|layername={Path(out).stem}"
        load = context.layersToLoadOnCompletion()
        if out in load:
            load[uri] = load.pop(out)
            context.setLayersToLoadOnCompletion(load)
        return uri

    def _run(self, op: str, params: dict[str, Any], feedback: Any) -> dict[str, Any]:
        store = params.get("store")
        params["store"] = store or os.environ.get("ECOZONE_STORE") or None
        try:
            return run_worker(op, params, feedback)
        except EcozoneRunError as exc:
            raise QgsProcessingException(str(exc)) from exc


class CheckAlgorithm(_EcozoneAlgorithm):
    """三线一单符合性检查: every site of a layer against a rule pack."""

    _name = "check"
    _title = "三线一单符合性检查 Site check"
    _help = (
        "检查输入图层的每个要素（选址）是否符合规则包的生态环境分区管控要求。输出图层含结论"
        "（verdict / verdict_zh，按结论着色）、决定性规则和到各图层的距离（米）。项目属性留空时"
        "从图层字段读取（project_type/项目类型、industry_code/行业代码、flags…）。\n"
        "Checks every feature against the pack; the output has the verdict, the deciding "
        "rules and the distance to each layer kind. Leave the project attributes empty to "
        "read them from the layer's fields. REPORT_FOLDER writes the EIA report "
        "(JSON/HTML/DOCX/PDF) for REPORT_SITE, else the first selected feature, else the "
        "first site."
    )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "选址图层 Sites", [QgsProcessing.TypeVectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterString("PACK", _PACK_HELP, defaultValue="", optional=True)
        )
        self.addParameter(QgsProcessingParameterString("COORDS", _COORDS_HELP, "wgs84"))
        for key, label in (
            ("PROJECT_NAME", "项目名称 Project name"),
            (
                "PROJECT_TYPE",
                "项目类型 Project type: construction | residential | industrial | linear | "
                "agriculture | other (empty: from the fields)",
            ),
            ("INDUSTRY", "行业代码 GB/T 4754 industry code, e.g. C2614"),
            ("FLAGS", _FLAGS_HELP),
            ("DEVELOPMENT", "新建/改扩建 Development: new | expansion"),
            ("ACTIVITY", _ACTIVITY_HELP),
        ):
            self.addParameter(QgsProcessingParameterString(key, label, optional=True))
        self.addParameter(
            QgsProcessingParameterBoolean(
                "TEMPORARY_LAND_USE", "临时用地 Temporary land use", defaultValue=False
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                "WATER_SUPPLY", "供水设施 Water-supply facility", defaultValue=False
            )
        )
        self._add_store()
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                "REPORT_FOLDER", "报告文件夹 Report folder (one site)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "REPORT_SITE", "报告选址编号 Site id for the report", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "REPORT_FORMATS",
                "报告格式 Report formats (comma-separated: json,html,docx,pdf)",
                "json,html,docx,pdf",
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterVectorDestination("OUTPUT", "检查结论 Verdicts"))

    def _selected_site(self, parameters: dict, context: QgsProcessingContext) -> str:
        layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
        if layer is None or layer.selectedFeatureCount() == 0:
            return ""
        feature = next(layer.getSelectedFeatures())
        idx = layer.fields().indexOf("site_id")
        if idx >= 0 and feature[idx] not in (None, ""):
            return str(feature[idx])
        return str(sorted(layer.allFeatureIds()).index(feature.id()) + 1)

    def processAlgorithm(self, parameters: dict, context: Any, feedback: Any) -> dict:  # noqa: D102
        path, layer = self._input_file(parameters, context, feedback)
        out = self._vector_out(parameters, context, "ecozone_check")
        report_dir = self.parameterAsString(parameters, "REPORT_FOLDER", context)
        wants_report = bool(parameters.get("REPORT_FOLDER"))
        site = self.parameterAsString(parameters, "REPORT_SITE", context)
        params = {
            "input": path,
            "layer": layer,
            "pack": self.parameterAsString(parameters, "PACK", context),
            "coords": self.parameterAsString(parameters, "COORDS", context) or "wgs84",
            "project_name": self.parameterAsString(parameters, "PROJECT_NAME", context),
            "project_type": self.parameterAsString(parameters, "PROJECT_TYPE", context),
            "industry_code": self.parameterAsString(parameters, "INDUSTRY", context),
            "flags": self.parameterAsString(parameters, "FLAGS", context),
            "development": self.parameterAsString(parameters, "DEVELOPMENT", context),
            "activity": self.parameterAsString(parameters, "ACTIVITY", context),
            "temporary_land_use": self.parameterAsBool(parameters, "TEMPORARY_LAND_USE", context),
            "water_supply": self.parameterAsBool(parameters, "WATER_SUPPLY", context),
            "store": self.parameterAsFile(parameters, "STORE", context),
            "out": out,
            "errors_out": str(Path(out).with_name(f"{Path(out).stem}.errors.csv")),
        }
        if wants_report and report_dir:
            params["report_dir"] = report_dir
            params["report_site"] = site or self._selected_site(parameters, context)
            params["report_formats"] = self.parameterAsString(parameters, "REPORT_FORMATS", context)
        result = self._run("check", params, feedback)
        by = result.get("by_verdict", {})
        feedback.pushInfo(
            f"{result.get('checked', 0)} / {result.get('total', 0)} 处选址已检查: "
            + ", ".join(f"{k} {v}" for k, v in by.items())
        )
        for note in result.get("notes") or ():  # what every verdict rests on
            params = [_PARAMETER_FOR[a] for a in note.get("asks") or () if a in _PARAMETER_FOR]
            hint = f"（参数 {'、'.join(params)}）" if params else ""
            text = f"注（{note['kind']}）：{note['text']}{hint}"
            (feedback.pushWarning if note["kind"] == "demo_data" else feedback.pushInfo)(text)
        if result.get("errors"):
            feedback.pushWarning(f"{result['errors']} 行无法检查，见 {result.get('errors_out')}")
        return {
            "OUTPUT": self._written_layer(out, context),
            "REPORT_FOLDER": report_dir if wants_report else None,
        }


class CoverageAlgorithm(_EcozoneAlgorithm):
    """指标测算: the pack's targets measured, with an optional district breakdown."""

    _name = "coverage"
    _title = "指标测算 Coverage against targets"
    _help = (
        "测算规则包的各项空间指标（生态保护红线占比、公园绿地500米服务半径覆盖率等）与规划目标"
        "对比，输出 CSV 表格（wide：每个目标及各区一行；"
        "long：机器表，分区写入 <名称>.districts.csv）。\n"
        "Measures the pack's targets; writes the table as ecozone coverage --out x.csv "
        "[--format long] does."
    )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterString("PACK", _PACK_HELP, defaultValue="", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "BY", "分区统计 Breakdown", options=["district", "none"], defaultValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "FORMAT",
                "表格形式 Table: wide (one row per target and district) | long (machine table)",
                options=["wide", "long"],
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                "LANDCOVER", "土地覆被 Land-cover GeoTIFF (forest coverage)", optional=True
            )
        )
        self._add_store()
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", "指标表 Metrics table", fileFilter="CSV (*.csv)"
            )
        )

    def processAlgorithm(self, parameters: dict, context: Any, feedback: Any) -> dict:  # noqa: D102
        out = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        landcover = self.parameterAsRasterLayer(parameters, "LANDCOVER", context)
        params = {
            "pack": self.parameterAsString(parameters, "PACK", context),
            "by": ["district", "none"][self.parameterAsEnum(parameters, "BY", context)],
            "format": ["wide", "long"][self.parameterAsEnum(parameters, "FORMAT", context)],
            "landcover": landcover.source() if landcover is not None else None,
            "store": self.parameterAsFile(parameters, "STORE", context),
            "out": out,
        }
        result = self._run("coverage", params, feedback)
        for row in result.get("metrics", []):
            feedback.pushInfo(f"{row.get('label')}: {row.get('value')} {row.get('unit') or ''}")
        files = result.get("files", [])
        for f in files:
            context.addLayerToLoadOnCompletion(
                f, QgsProcessingContext.LayerDetails(Path(f).stem, context.project(), "OUTPUT")
            )
        districts = next((f for f in files if f.endswith(".districts.csv")), None)
        return {"OUTPUT": out, "DISTRICTS": districts}


class GapsAlgorithm(_EcozoneAlgorithm):
    """Coverage gaps and pocket-park candidates."""

    _name = "gaps"
    _title = "覆盖缺口与口袋公园选址 Gaps and pocket parks"
    _help = (
        "公园绿地服务半径未覆盖的居住用地（按区排序），以及逐个新增覆盖面积最大的口袋公园候选点。"
        "GeoPackage 输出含两个图层：uncovered_residential 与 pocket_park_candidates。\n"
        "Residential land outside every park service radius, and greedy pocket-park sites."
    )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterString("PACK", _PACK_HELP, defaultValue="", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "CANDIDATES", "候选数 Candidates (0: none)", defaultValue=10, minValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "RADIUS",
                "口袋公园服务半径 Pocket-park radius (m)",
                QgsProcessingParameterNumber.Double,
                300.0,
                minValue=1.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "SPACING",
                "候选网格间距 Candidate grid spacing (m)",
                QgsProcessingParameterNumber.Double,
                200.0,
                minValue=1.0,
            )
        )
        self._add_store()
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", "覆盖缺口 Gaps", fileFilter="GeoPackage (*.gpkg)"
            )
        )

    def processAlgorithm(self, parameters: dict, context: Any, feedback: Any) -> dict:  # noqa: D102
        out = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        if not out.lower().endswith(".gpkg"):
            out = f"{out}.gpkg"
        params = {
            "pack": self.parameterAsString(parameters, "PACK", context),
            "n_candidates": self.parameterAsInt(parameters, "CANDIDATES", context),
            "radius_m": self.parameterAsDouble(parameters, "RADIUS", context),
            "spacing_m": self.parameterAsDouble(parameters, "SPACING", context),
            "store": self.parameterAsFile(parameters, "STORE", context),
            "out": out,
        }
        result = self._run("gaps", params, feedback)
        feedback.pushInfo(
            f"{result['uncovered_polygons']} 块未覆盖居住用地, "
            f"{result['uncovered_m2'] / 1e6:.3f} km²; {result['candidates']} 个候选点"
        )
        uris = [f"{out}|layername=uncovered_residential"]
        if result["candidates"]:
            uris.append(f"{out}|layername=pocket_park_candidates")
        for uri in uris:
            name = uri.rsplit("=", 1)[1]
            context.addLayerToLoadOnCompletion(
                uri, QgsProcessingContext.LayerDetails(name, context.project(), "OUTPUT")
            )
        return {"OUTPUT": out}


class ImportAlgorithm(_EcozoneAlgorithm):
    """Import a layer into the store as a new, validated version."""

    _name = "import_layer"
    _title = "导入图层到图层库 Layer import into a store"
    _help = (
        "把输入图层作为新版本导入图层库：按图层类型校验（错误逐条列出），旧版本保留可复现。"
        "KIND 取值见 `ecozone layers kinds`。\n"
        "Imports the layer as a new version after the kind's validation; old versions stay."
    )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "图层 Layer", [QgsProcessing.TypeVectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterString("KIND", "图层类型 Kind (e.g. redline, park, well)")
        )
        self.addParameter(
            QgsProcessingParameterString("NAME", "名称 Name (default: the kind)", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterString("SOURCE", "来源 Source document", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterString(
                "SOURCE_DATE", "来源日期 Source date (2024-06-30)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                "SYNTHETIC", "演示数据 Synthetic (not official)", defaultValue=False
            )
        )
        self.addParameter(QgsProcessingParameterString("COORDS", _COORDS_HELP, "wgs84"))
        self._add_store()
        self.addOutput(QgsProcessingOutputString("LAYER", "导入的图层 Imported layer (URI)"))
        self.addOutput(QgsProcessingOutputNumber("VERSION", "版本 Version"))

    def processAlgorithm(self, parameters: dict, context: Any, feedback: Any) -> dict:  # noqa: D102
        path, layer = self._input_file(parameters, context, feedback)
        src = self.parameterAsVectorLayer(parameters, "INPUT", context)
        params = {
            "input": path,
            "layer": layer,
            "source_file": src.source().split("|")[0] if src is not None else path,
            "kind": self.parameterAsString(parameters, "KIND", context),
            "name": self.parameterAsString(parameters, "NAME", context),
            "source": self.parameterAsString(parameters, "SOURCE", context),
            "source_date": self.parameterAsString(parameters, "SOURCE_DATE", context),
            "synthetic": self.parameterAsBool(parameters, "SYNTHETIC", context),
            "coords": self.parameterAsString(parameters, "COORDS", context) or "wgs84",
            "store": self.parameterAsFile(parameters, "STORE", context),
        }
        result = self._run("import", params, feedback)
        for issue in result.get("issues", []):
            feedback.pushWarning(
                f"row {issue.get('row')}: {issue.get('action')}: {issue.get('reason')}"
            )
        feedback.pushInfo(
            f"{result['row_count']} 个要素导入为 {result['name']} v{result['version']} "
            f"(sha256 {result['checksum'][:12]}…)"
        )
        uri = f"{result['store']}|layername={result['name']}" if result.get("store") else ""
        return {"LAYER": uri, "VERSION": result["version"]}


class ConvertAlgorithm(_EcozoneAlgorithm):
    """Coordinate conversion between WGS84/CGCS2000, GCJ-02, BD-09 and GK zones."""

    _name = "convert"
    _title = "坐标转换 Coordinate conversion"
    _help = (
        "在 WGS84/CGCS2000、GCJ-02（高德/腾讯）、BD-09（百度）与高斯-克吕格分带之间转换图层坐标。"
        "FROM 留空即图层自身坐标系；FROM/TO 取值同 `ecozone coords convert`：wgs84 | cgcs2000 | "
        "gcj02 | bd09 | gk39 | gk | EPSG:4548。"
        "GCJ-02/BD-09 结果标注为 EPSG:4326（二者无 EPSG 编码）。"
    )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT", "图层 Layer", [QgsProcessing.TypeVectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "FROM", "源坐标系 From (empty: the layer's CRS)", optional=True
            )
        )
        self.addParameter(QgsProcessingParameterString("TO", "目标坐标系 To", "wgs84"))
        self.addParameter(QgsProcessingParameterVectorDestination("OUTPUT", "转换结果 Converted"))

    def processAlgorithm(self, parameters: dict, context: Any, feedback: Any) -> dict:  # noqa: D102
        path, layer = self._input_file(parameters, context, feedback)
        out = self._vector_out(parameters, context, "ecozone_convert")
        params = {
            "input": path,
            "layer": layer,
            "src": self.parameterAsString(parameters, "FROM", context),
            "dst": self.parameterAsString(parameters, "TO", context),
            "out": out,
        }
        result = self._run("convert", params, feedback)
        feedback.pushInfo(f"{result['rows']} 个要素 → {result['crs']}")
        return {"OUTPUT": self._written_layer(out, context)}


ALGORITHMS = (CheckAlgorithm, CoverageAlgorithm, GapsAlgorithm, ImportAlgorithm, ConvertAlgorithm)
