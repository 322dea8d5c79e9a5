"""Shared pieces of the coverage metrics: MetricResult, targets, input handling.

Private to :mod:`zoning.coverage.measure` (which re-exports the public names).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import InputFormatError, LayerNotFoundError, MissingLayerError
from geo.overlay import area_series
from zoning.coverage.registry import metric_spec
from zoning.coverage.service import MetricFrame, clip_to_zones, dissolve_overlaps, polygonal

IMPORT_HINT = "import one with `ecozone layers import FILE --kind {kind}`"

#: Statuses of a measured target or of a district row (MetricResult.status).
STATUSES = ("met", "unmet", "partial", "no_data", "no_target", "contribution")

#: Chinese wording of each status, for binding (True) and aspirational (False) targets.
STATUS_ZH: dict[tuple[str, bool], str] = {
    ("met", True): "达标",
    ("unmet", True): "未达标",
    ("met", False): "已达到力争目标",
    ("unmet", False): "未达到力争目标",
    ("partial", True): "部分数据，未判定",
    ("partial", False): "部分数据，未判定",
    ("no_data", True): "无数据",
    ("no_data", False): "无数据",
    ("no_target", True): "未给目标值（仅测算）",
    ("no_target", False): "未给目标值（仅测算）",
    ("contribution", True): "贡献（不单独考核）",
    ("contribution", False): "贡献（不单独考核）",
}
STATUS_EN: dict[tuple[str, bool], str] = {
    ("met", True): "met",
    ("unmet", True): "not met",
    ("met", False): "aspiration reached",
    ("unmet", False): "aspiration not reached",
    ("partial", True): "partial data, not judged",
    ("partial", False): "partial data, not judged",
    ("no_data", True): "no data",
    ("no_data", False): "no data",
    ("contribution", True): "contribution (not judged on its own)",
    ("contribution", False): "contribution (not judged on its own)",
}
#: The nature of a target: binding (约束性) or aspiration (力争).
NATURE_ZH = {True: "约束性", False: "力争（预期性）"}


@dataclass(frozen=True)
class MetricResult:
    """One metric measured against its target.

    Attributes
    ----------
    metric : str
        Metric name ("redline_share", "park_service_coverage", ...).
    label : str
        Chinese label (the target's label when measured from a pack).
    value : float or None
        Measured value in ``unit`` (None when not measured).
    unit : str
        "%" or "m2/person".
    target : float or None
        Target value.
    comparison : str
        ">=" or "<=".
    met : bool or None
        Whether the value meets the target.
    gap_pp : float or None
        Shortfall in percentage points (negative = target exceeded); None for
        per-person metrics.
    gap_abs : float or None
        The shortfall as an absolute amount in ``gap_unit``.
    gap_unit : str
        "km2" (area still needed) or "m2/person".
    citation : str or None
        Where the target comes from.
    inputs : dict
        Layer name → version (None for plain GeoDataFrames), raster paths.
    by_district : pandas.DataFrame
        One row per district: ``adcode``, ``name``, ``value``, ``target``, ``met``,
        ``gap_pp``, ``gap_abs`` and the metric's numerator / denominator columns.
    measured : bool
        False when an input was missing (see ``reason``).
    reason : str or None
        Why the metric was not measured.
    target_id : str or None
        Id of the pack target.
    details : dict
        Method, totals and secondary values (e.g. population-weighted coverage).
    binding : bool
        False for an aspiration (the plan says 力争).
    status : str
        "met" / "unmet" (judged at the target's own scope), "partial" (measured
        from part of the scope's districts, not judged), "no_data", or
        "contribution" (the figure of an area inside the target's scope).
    covered_districts : tuple of str
        Names of the districts whose data the figure is built from (all of them
        when the data is complete; empty when not broken down).
    scope : str or None
        Id of the target's scope ("municipality", "built_up", ...).
    scope_name : str or None
        Name of the area the figure is measured for.
    notes : list of dict
        ``{"kind", "text", "text_en"}``: missing data, demonstration data, partial
        coverage, assumptions.
    """

    metric: str
    label: str
    value: float | None
    unit: str
    target: float | None
    comparison: str
    met: bool | None
    gap_pp: float | None
    gap_abs: float | None
    gap_unit: str
    citation: str | None
    inputs: dict[str, Any]
    by_district: pd.DataFrame
    measured: bool = True
    reason: str | None = None
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    binding: bool = True
    status: str = "met"
    covered_districts: tuple[str, ...] = ()
    scope: str | None = None
    scope_name: str | None = None
    notes: list[dict[str, str]] = field(default_factory=list)

    @property
    def status_zh(self) -> str:
        """Chinese status, worded for binding vs aspirational targets."""
        return STATUS_ZH[(self.status, self.binding)]

    @property
    def status_en(self) -> str:
        """English status."""
        return STATUS_EN[(self.status, self.binding)]

    @property
    def nature_zh(self) -> str:
        """约束性 or 力争（预期性）."""
        return NATURE_ZH[self.binding]

    def as_row(self) -> dict[str, Any]:
        """Flat dict for a summary table (no per-district table)."""
        return {
            "target_id": self.target_id,
            "metric": self.metric,
            "label": self.label,
            "scope": self.scope,
            "scope_name": self.scope_name,
            "binding": self.binding,
            "nature_zh": self.nature_zh,
            "status": self.status,
            "status_zh": self.status_zh,
            "covered_districts": ";".join(self.covered_districts),
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "comparison": self.comparison,
            "met": self.met,
            "gap_pp": self.gap_pp,
            "gap_abs": self.gap_abs,
            "gap_unit": self.gap_unit,
            "measured": self.measured,
            "reason": self.reason,
            "citation": self.citation,
            "notes": " ".join(n["text"] for n in self.notes),
        }


_PARTIAL_EN = "built from"


def with_status(
    result: MetricResult,
    *,
    contribution: bool = False,
    judge_partial: bool = False,
    binding: bool | None = None,
) -> MetricResult:
    """The result with its status set from its data coverage (see :data:`STATUSES`).

    District rows are contributions (``status`` "contribution") or "no_data" where the
    district has no input data (a non-finite value); they are never judged. The
    figure itself is "no_data" without a value, "contribution" when ``contribution``
    (an area inside the target's scope), "partial" when some districts had no data
    (unless ``judge_partial``), else "met" / "unmet".

    Parameters
    ----------
    result
        A measured result.
    contribution
        The figure is for an area inside the target's scope.
    judge_partial
        Judge a figure built from part of the districts (with a note saying so).
    binding
        Overrides ``result.binding``.

    Returns
    -------
    MetricResult
        A copy.
    """
    binding = result.binding if binding is None else binding
    table = result.by_district
    notes = [n for n in result.notes if not n.get("text_en", "").startswith(_PARTIAL_EN)]
    covered: tuple[str, ...] = ()
    missing: list[str] = []
    if table is not None and len(table) and "value" in table:
        table = table.copy()
        ok = np.isfinite(pd.to_numeric(table["value"], errors="coerce").to_numpy(float))
        table["status"] = np.where(ok, "contribution", "no_data")
        names = table["name"].astype(str).to_numpy() if "name" in table else np.array([])
        if len(names):
            covered = tuple(names[ok])
            missing = list(names[~ok])
    if "comparison_if_judged" not in result.details:  # kept for re-judging a partial figure
        result.details["comparison_if_judged"] = {
            "met": result.met,
            "gap_pp": result.gap_pp,
            "gap_abs": result.gap_abs,
        }
    if result.details.get("complete_data") is True:
        missing = []  # the figure itself has data for its whole area
    raw = result.details.get("comparison_if_judged") or {}
    met, gap_pp, gap_abs = (raw.get(k, getattr(result, k)) for k in ("met", "gap_pp", "gap_abs"))
    if not result.measured:
        status = "no_data"
    elif result.value is None:
        status = "no_data"
    elif contribution:
        status = "contribution"
    elif missing and not judge_partial:
        status = "partial"
    else:
        status = (
            "met" if met else "unmet" if met is not None
            else "no_target" if result.target is None else "no_data"
        )  # fmt: skip
    if missing and result.value is not None:
        text = (
            f"本值仅由有数据的{len(covered)}个区计算（{'、'.join(covered)}）；"
            f"无数据：{'、'.join(missing)}"
            + ("；按用户要求按部分数据判定" if judge_partial and not contribution else "")
        )
        notes.append(
            {
                "kind": "missing_data",
                "text": text,
                "text_en": f"{_PARTIAL_EN} {len(covered)} districts with data; "
                f"no data for {len(missing)}",
            }
        )
    judged = status in ("met", "unmet")
    return dataclasses.replace(
        result,
        by_district=table if table is not None else result.by_district,
        status=status,
        binding=binding,
        met=met if judged else None,
        gap_pp=gap_pp if judged else None,
        gap_abs=gap_abs if judged else None,
        covered_districts=covered,
        notes=notes,
    )


def metrics_table(results: Sequence[MetricResult]) -> pd.DataFrame:
    """One row per result (see :meth:`MetricResult.as_row`)."""
    return pd.DataFrame([r.as_row() for r in results])


def districts_table(results: Sequence[MetricResult]) -> pd.DataFrame | None:
    """The per-district rows of every measured result, with a ``metric`` column.

    Returns ``None`` when no result was measured by district.
    """
    frames = [
        r.by_district.assign(metric=r.metric)
        for r in results
        if r.measured and r.by_district is not None and not r.by_district.empty
    ]
    return pd.concat(frames, ignore_index=True) if frames else None


def write_metrics_csv(results: Sequence[MetricResult], path: str | Path) -> list[Path]:
    """Write the metrics table as CSV, and the per-district table beside it.

    Parameters
    ----------
    results
        From :func:`zoning.coverage.measure.measure_targets`.
    path
        Target ``.csv``; the districts go to ``<stem>.districts.csv`` when measured.

    Returns
    -------
    list of pathlib.Path
        The files written (UTF-8 with BOM, atomically; see :func:`geo.io.spreadsheet.write_csv`).
    """
    from geo.io.spreadsheet import write_csv

    path = Path(path)
    written = [write_csv(metrics_table(results), path)]
    districts = districts_table(results)
    if districts is not None:
        written.append(write_csv(districts, path.with_name(f"{path.stem}.districts.csv")))
    return written


# --------------------------------------------------------------------------- inputs


def get_layer(layers: Any, kind: str) -> Any:
    """Fetch a layer of ``kind`` from a mapping or a LayerStore, or raise MissingLayerError.

    Parameters
    ----------
    layers
        Mapping kind → Layer / GeoDataFrame, or an object with ``get_kind(kind)``.
    kind
        Layer kind.

    Returns
    -------
    Layer or GeoDataFrame

    Raises
    ------
    MissingLayerError
        Naming the kind and the import command.
    """
    found = None
    if isinstance(layers, Mapping):
        found = layers.get(kind)
    elif hasattr(layers, "get_kind"):
        try:
            found = layers.get_kind(kind)
        except (LayerNotFoundError, KeyError, LookupError):
            found = None
    if found is None:
        msg = f"no {kind!r} layer in the store: {IMPORT_HINT.format(kind=kind)}"
        raise MissingLayerError(msg)
    return found


def as_frame(obj: Any, kind: str, inputs: dict[str, Any]) -> gpd.GeoDataFrame:
    """GeoDataFrame of a Layer / GeoDataFrame / GeoSeries; record its version in ``inputs``."""
    if obj is None:
        msg = f"no {kind!r} layer given: {IMPORT_HINT.format(kind=kind)}"
        raise MissingLayerError(msg)
    if hasattr(obj, "gdf"):
        inputs[str(getattr(obj, "name", kind))] = getattr(obj, "version", None)
        return obj.gdf
    if isinstance(obj, gpd.GeoSeries):
        obj = gpd.GeoDataFrame(geometry=obj)
    if not isinstance(obj, gpd.GeoDataFrame):
        msg = f"`{kind}` must be a Layer or GeoDataFrame, got {type(obj).__name__}"
        raise InputFormatError(msg)
    inputs.setdefault(str(obj.attrs.get("layer_name", kind)), obj.attrs.get("version"))
    return obj


def zones_of(districts: Any, frame: MetricFrame) -> tuple[NDArray[np.object_], pd.DataFrame]:
    """District geometries (metric) and their ``adcode`` / ``name`` table."""
    if districts is None or len(districts) == 0:
        return np.zeros(0, dtype=object), pd.DataFrame(columns=["adcode", "name"])
    d = districts.gdf if hasattr(districts, "gdf") else districts
    info = pd.DataFrame(
        {
            "adcode": d["adcode"].astype(str).to_numpy() if "adcode" in d else np.arange(len(d)),
            "name": d["name"].astype(str).to_numpy() if "name" in d else "",
        }
    )
    return polygonal(frame.project(d)), info


def districts_of(boundaries: Any, jurisdiction: Any = None) -> gpd.GeoDataFrame:
    """Return the districts of a jurisdiction from the boundary layer.

    Parameters
    ----------
    boundaries
        Boundary layer (``adcode``, ``level``, optional ``parent_adcode``).
    jurisdiction
        An adcode (str) or list of adcodes: the districts whose ``parent_adcode``
        is one of them (when the column is missing: adcodes with the same
        2-digit province prefix). A geometry / GeoDataFrame: the districts that
        overlap it, clipped to it. None: every district.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``adcode`` and ``name``.
    """
    b = boundaries.gdf if hasattr(boundaries, "gdf") else boundaries
    level = b["level"].astype(str) if "level" in b else pd.Series("district", index=b.index)
    d = b[level == "district"]
    if jurisdiction is None:
        return d.copy()
    if isinstance(jurisdiction, str | list | tuple):
        given = [jurisdiction] if isinstance(jurisdiction, str) else jurisdiction
        codes = [str(c) for c in given]
        if "parent_adcode" in d:
            sel = d["parent_adcode"].astype(str).isin(codes)
        else:
            sel = d["adcode"].astype(str).str[:2].isin([c[:2] for c in codes]) & ~d[
                "adcode"
            ].astype(str).isin(codes)
        out = d[sel].copy()
        if len(out) == 0 and d["adcode"].astype(str).isin(codes).any():
            out = d[d["adcode"].astype(str).isin(codes)].copy()  # a district itself
        return out
    area = area_series(jurisdiction)
    assert area is not None
    area = area.to_crs(d.crs)
    clipped = d.copy()
    clipped["geometry"] = shapely.intersection(
        np.asarray(d.geometry.values, dtype=object), area.iloc[0]
    )
    return clipped[~clipped.geometry.is_empty & (clipped.geometry.area > 0)]


def resolve_target(metric: str, target: Any) -> tuple[float | None, str, str, str, str | None]:
    """(value, comparison, label, unit, citation) from a pack Target, a number or nothing.

    Target values and their citations are pack data (``[targets]`` of a pack): without
    a target the metric is measured and reported with no target, gap or verdict. The
    comparison, unit and label default to the metric's (:mod:`zoning.coverage.registry`).
    """
    spec = metric_spec(metric)
    if spec is None:
        msg = f"unknown metric {metric!r}"
        raise ValueError(msg)
    comp, unit, label = spec.comparison, spec.unit, spec.label
    if target is None:
        return None, comp, label, unit, None
    if isinstance(target, int | float):
        return float(target), comp, label, unit, None
    return (
        float(target.value),
        str(getattr(target, "comparison", comp)),
        str(getattr(target, "label", label)),
        str(getattr(target, "unit", unit)),
        str(getattr(target, "citation", "")) or None,
    )


def judge(value: float, target: float | None, comp: str) -> tuple[bool | None, float | None]:
    """Whether ``value`` meets ``target`` under ``comp`` (">=" / "<="), and the gap."""
    if target is None or value is None or not math.isfinite(value):
        return None, None
    short = target - value if comp == ">=" else value - target
    return bool(short <= 1e-12), float(short)


def make_result(
    metric: str,
    target: Any,
    *,
    value: float,
    base: float,
    inputs: dict[str, Any],
    table: pd.DataFrame,
    details: dict[str, Any],
    label: str | None = None,
) -> MetricResult:
    """Assemble a MetricResult; ``base`` is the denominator in km² (shares) or persons."""
    tval, comp, tlabel, unit, cite = resolve_target(metric, target)
    met, short = judge(value, tval, comp)
    per_person = unit == "m2/person"
    gap_pp = None if per_person or short is None else short
    gap_abs = short if per_person else (None if short is None else short / 100.0 * base)
    # district rows are contributions to the figure, never judged against the target
    # (a district target exists only where a plan sets one): see with_status
    return with_status(
        MetricResult(
            metric=metric,
            label=label or tlabel,
            value=float(value) if value is not None and math.isfinite(value) else None,
            unit=unit,
            target=tval,
            comparison=comp,
            met=met,
            gap_pp=gap_pp,
            gap_abs=gap_abs,
            gap_unit="m2/person" if per_person else "km2",
            citation=cite,
            inputs=dict(inputs),
            by_district=table.reset_index(drop=True),
            target_id=getattr(target, "id", None),
            details=details,
            binding=bool(getattr(target, "binding", True)),
            scope=getattr(target, "scope", None),
        )
    )


def pct(num: NDArray | float, den: NDArray | float) -> Any:
    """``100 * num / den``, NaN where ``den`` is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(den) > 0, 100.0 * np.asarray(num) / np.asarray(den), np.nan)


def dissolved_area(
    frame: MetricFrame, geoms: NDArray[np.object_], area_m: Any, zones: NDArray[np.object_]
) -> tuple[float, NDArray[np.float64]]:
    """Ellipsoidal area of the union of ``geoms`` inside ``area_m`` (total, per zone)."""
    geoms = polygonal(geoms)
    if area_m is not None:
        gi, _, geoms = clip_to_zones(geoms, np.array([area_m], dtype=object))
    parts, _ = dissolve_overlaps(geoms)
    factor = frame.area_factor(parts)
    total = float((shapely.area(parts) * factor).sum())
    per_zone = np.zeros(len(zones))
    if len(zones):
        gi, zi, pieces = clip_to_zones(parts, zones)
        per_zone = np.bincount(zi, shapely.area(pieces) * factor[gi], minlength=len(zones))
    return total, per_zone
