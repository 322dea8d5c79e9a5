"""Scenario data: load the TOML files, place each site on the store's features, read answers.

A scenario (one ``[[scenario]]`` table of ``tests/scenarios/<pack>.toml``) says what the
plan text says should happen to one site and one project:

- ``id``, ``pack``, ``title``; ``pending`` (optional): the engine part it awaits (the
  runner marks it ``xfail(strict=True)`` until that part lands);
- ``[scenario.site]``: where the site is, either literal ``lonlat = [lon, lat]`` (the
  outside-jurisdiction cases) or derived from the store's features at test time:
  ``layer`` (+ ``feature`` id, or ``where`` = column → value(s)), then the anchor is the
  feature's representative point (or the point itself), moved ``offset_m`` along
  ``azimuth`` (geodesic, pyproj.Geod); ``shape`` = ``point`` | ``square`` (side
  ``size_m``) | ``bowtie`` (the same square drawn self-intersecting) | ``line``
  (``size_m`` long, along ``azimuth_line``; ``crossing = true``: long enough to cross
  the whole feature); ``sample = N`` also tries N grid points inside a polygon.
  ``inside`` (features the site must lie in), ``touch`` (features it must intersect)
  and ``avoid`` (features the site must stay ``distance_m`` away from) pick the first
  candidate feature (by ``feature_id``) that satisfies them, so the scenario survives a
  rebuild of the demo data. ``coords = "gcj02"`` sends the site in GCJ-02;
- ``[scenario.project]``: ``project_type``, ``industry_code``, ``flags``,
  ``development``, ``temporary_land_use``, ``water_supply``, ``activity`` (the limited
  human activity the project declares, for the plans' exceptions), ``exits_m`` (exit
  points as ``[east_m, north_m]`` offsets from the site anchor);
- ``[scenario.expect]``: ``verdict`` (one of zoning.check.result.VERDICTS) or ``error``
  (``"outside_jurisdiction"``); ``deciding`` (rule ids that decide, a subset check),
  ``absent`` (rule ids that must not fire), ``exceptions`` (ids of the rule exceptions
  that must apply, e.g. ``limited_activity.linear``), ``notes`` (kinds of the result's
  notes that must be there, e.g. ``missing_data``); ``verdict_in`` instead of ``verdict``
  where the plans allow several levels (never ``compliant``);
  ``[[scenario.expect.fires]]`` each a rule id and its ``cite``;
  ``[[scenario.expect.access]]`` each an access-list entry (``text`` fragment,
  ``judgement``, optional ``unit_code``) and its ``cite``;
  ``length_share_pct`` for lines (share of the line inside the ``layer`` feature,
  measured here with pyproj.Geod), ``overlap_share = true`` for polygons (the overlap's
  share of the site, checked against pyproj.Geod areas).

A ``cite`` is ``{source = "002_….txt", line = "672", text = "…"}`` (checked against
the seed line, as tests/zoning/test_pack.py checks pack citations) or
``{source = "中华人民共和国水污染防治法", law = "...", article = "第六十五条", text = "…"}``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point, Polygon

HERE = Path(__file__).resolve().parent
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
#: Scenario files, one per pack.
FILES = sorted(HERE.glob("*.toml"))
#: Limited human activities a project may declare: the engine's own codes.
try:
    from zoning.project import ACTIVITIES as _ENGINE_ACTIVITIES
except ImportError:  # an engine without declared activities
    _ENGINE_ACTIVITIES = {}
ACTIVITIES = tuple(_ENGINE_ACTIVITIES)


@dataclass(frozen=True)
class Cite:
    source: str
    text: str
    line: str | None = None
    law: str | None = None
    article: str | None = None

    @property
    def is_seed(self) -> bool:
        return self.line is not None


@dataclass(frozen=True)
class Fires:
    rule: str
    cite: Cite


@dataclass(frozen=True)
class Access:
    text: str
    judgement: str
    cite: Cite
    unit_code: str | None = None


@dataclass
class Scenario:
    id: str
    pack: str
    title: str
    site: dict[str, Any]
    project: dict[str, Any]
    verdict: str | None
    error: str | None
    fires: list[Fires]
    access: list[Access]
    deciding: list[str]
    absent: list[str]
    pending: str | None = None
    exceptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict_in: list[str] = field(default_factory=list)
    length_share_pct: float | None = None
    overlap_share: bool = False
    source_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def coords(self) -> str:
        return str(self.site.get("coords", "wgs84"))

    def citations(self) -> list[tuple[str, Cite]]:
        out = [(f"fires {f.rule}", f.cite) for f in self.fires]
        out += [(f"access {a.text!r}", a.cite) for a in self.access]
        out += [(f"cite[{i}]", c) for i, c in enumerate(self.extra.get("cites", []))]
        return out


def _cite(d: dict[str, Any], where: str) -> Cite:
    if not isinstance(d, dict) or "source" not in d or "text" not in d:
        raise ValueError(f"{where}: cite needs source and text, got {d!r}")
    line = d.get("line")
    if line is None and not d.get("article"):
        raise ValueError(f"{where}: a cite needs a seed line or a law article")
    return Cite(
        source=d["source"], text=d["text"], line=None if line is None else str(line),
        law=d.get("law"), article=d.get("article"),
    )  # fmt: skip


@cache
def load_all() -> tuple[Scenario, ...]:
    """Every scenario of every file, in file order; ids are unique."""
    out: list[Scenario] = []
    for path in FILES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for i, sc in enumerate(data.get("scenario", [])):
            where = f"{path.name} scenario {i} ({sc.get('id')})"
            exp = sc.get("expect", {})
            out.append(
                Scenario(
                    id=sc["id"],
                    pack=sc["pack"],
                    title=sc["title"],
                    site=dict(sc["site"]),
                    project=dict(sc.get("project", {})),
                    verdict=exp.get("verdict"),
                    error=exp.get("error"),
                    fires=[
                        Fires(f["rule"], _cite(f["cite"], f"{where} fires {f['rule']}"))
                        for f in exp.get("fires", [])
                    ],
                    access=[
                        Access(
                            a["text"],
                            a["judgement"],
                            _cite(a["cite"], f"{where} access"),
                            a.get("unit_code"),
                        )
                        for a in exp.get("access", [])
                    ],
                    deciding=list(exp.get("deciding", [])),
                    absent=list(exp.get("absent", [])),
                    pending=sc.get("pending"),
                    exceptions=list(exp.get("exceptions", [])),
                    notes=list(exp.get("notes", [])),
                    verdict_in=list(exp.get("verdict_in", [])),
                    length_share_pct=exp.get("length_share_pct"),
                    overlap_share=bool(exp.get("overlap_share", False)),
                    source_file=path.name,
                    extra={"cites": [_cite(c, where) for c in sc.get("cites", [])]},
                )
            )
    ids = [s.id for s in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate scenario ids: {sorted(dup)}")
    return tuple(out)


# --------------------------------------------------------------------------- placing sites


def fwd(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    """Point ``dist`` metres from (lon, lat) along azimuth ``az`` (geodesic)."""
    x, y, _ = GEOD.fwd(lon, lat, az, dist)
    return float(x), float(y)


def _square(lon: float, lat: float, side: float) -> Polygon:
    h = side / 2.0
    corners = []
    for e, n in ((-h, -h), (h, -h), (h, h), (-h, h)):
        x, y = fwd(lon, lat, 90.0, e) if e >= 0 else fwd(lon, lat, 270.0, -e)
        x, y = fwd(x, y, 0.0, n) if n >= 0 else fwd(x, y, 180.0, -n)
        corners.append((x, y))
    return Polygon(corners)


def _line(lon: float, lat: float, length: float, az: float) -> LineString:
    a = fwd(lon, lat, az + 180.0, length / 2.0)
    b = fwd(lon, lat, az, length / 2.0)
    # intermediate vertices so the line follows the geodesic closely
    pts = GEOD.npts(a[0], a[1], b[0], b[1], 20)
    return LineString([a, *pts, b])


def _aeqd(lon: float, lat: float) -> Transformer:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=GRS80 +units=m")
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def metric_distance(a: Any, b: Any) -> float:
    """Distance in metres between two lon/lat geometries (local azimuthal equidistant)."""
    c = a.centroid
    t = _aeqd(c.x, c.y)
    return float(
        shapely.distance(shapely.transform(a, t.transform, interleaved=False),
                         shapely.transform(b, t.transform, interleaved=False))
    )  # fmt: skip


def _select(gdf: gpd.GeoDataFrame, where: dict[str, Any] | None) -> gpd.GeoDataFrame:
    for col, val in (where or {}).items():
        vals = [str(v) for v in (val if isinstance(val, list) else [val])]
        gdf = gdf[gdf[col].astype(str).isin(vals)]
    return gdf


def _cond_ok(
    geom: Any, cond: dict[str, Any], layers: dict[str, gpd.GeoDataFrame], inside: bool
) -> bool:
    gdf = layers[cond["layer"]]
    gdf = _select(gdf, cond.get("where"))
    dist = float(cond.get("distance_m", 0.0))
    pad = dist / 80_000.0 + 1e-9  # degrees, generous at China's latitudes
    minx, miny, maxx, maxy = geom.bounds
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    near = gdf.iloc[gdf.sindex.query(box, predicate="intersects")] if len(gdf) else gdf
    if inside:
        # the whole site lies in the union of the matching features
        if near.empty:
            return False
        return bool(shapely.union_all(near.geometry.to_numpy()).buffer(1e-12).covers(geom))
    if near.empty:
        return True
    if dist <= 0:
        return not bool(near.intersects(geom).any())
    return all(metric_distance(geom, g) > dist for g in near.geometry)


def _anchors(row: Any, spec: dict[str, Any]) -> list[tuple[float, float]]:
    """Anchor points of a feature: the point itself, or the polygon's representative
    point then (``sample = N``) up to N grid points inside it, each moved by ``offset_m``."""
    g = row.geometry
    if g.geom_type == "Point":
        pts = [g]
    else:
        pts = [g.representative_point()]
        n = int(spec.get("sample", 0))
        if n:
            minx, miny, maxx, maxy = g.bounds
            k = int(np.ceil(np.sqrt(4 * n)))
            xs, ys = np.meshgrid(np.linspace(minx, maxx, k + 2)[1:-1],
                                 np.linspace(miny, maxy, k + 2)[1:-1])  # fmt: skip
            grid = shapely.points(xs.ravel(), ys.ravel())
            inside = grid[shapely.contains(g, grid)]
            if len(inside) > n:  # spread over the whole feature, not its first rows
                inside = inside[np.unique(np.linspace(0, len(inside) - 1, n).astype(int))]
            pts += list(inside)
    out = []
    for p in pts:
        lon, lat = p.x, p.y
        if spec.get("offset_m"):
            lon, lat = fwd(lon, lat, float(spec.get("azimuth", 90.0)), float(spec["offset_m"]))
        out.append((lon, lat))
    return out


def _shape(lon: float, lat: float, spec: dict[str, Any], feature: Any) -> Any:
    shape = spec.get("shape", "point")
    if shape == "point":
        return Point(lon, lat)
    if shape == "square":
        return _square(lon, lat, float(spec.get("size_m", 100.0)))
    if shape == "bowtie":  # a self-intersecting square (corners in the wrong order)
        sq = list(_square(lon, lat, float(spec.get("size_m", 100.0))).exterior.coords)[:4]
        return Polygon([sq[0], sq[2], sq[1], sq[3]])
    if shape == "line":
        az = float(spec.get("azimuth_line", 90.0))
        if spec.get("crossing"):
            minx, miny, maxx, maxy = feature.geometry.bounds
            diag = GEOD.line_length([minx, maxx], [miny, maxy])
            length = 2.0 * diag + 400.0
        else:
            length = float(spec.get("size_m", 500.0))
        return _line(lon, lat, length, az)
    raise ValueError(f"unknown site shape {shape!r}")


@dataclass
class Placed:
    geometry: Any  # lon/lat (WGS84)
    anchor: tuple[float, float]
    feature_id: str | None
    feature: Any = None


def place(sc: Scenario, layers: dict[str, gpd.GeoDataFrame], *, limit: int = 3000) -> Placed:
    """The scenario's site as a WGS84 geometry, placed on the store's features."""
    spec = sc.site
    if "lonlat" in spec:
        lon, lat = (float(v) for v in spec["lonlat"])
        return Placed(_shape(lon, lat, spec, None), (lon, lat), None)
    gdf = layers[spec["layer"]]
    if spec.get("feature"):
        cands = gdf[gdf["feature_id"].astype(str) == str(spec["feature"])]
        if cands.empty:
            raise LookupError(
                f"{sc.id}: no {spec['layer']} feature {spec['feature']!r} in the store"
            )
    else:
        cands = _select(gdf, spec.get("where")).sort_values("feature_id")
    for row in cands.head(limit).itertuples(index=False):
        for lon, lat in _anchors(row, spec):
            geom = _shape(lon, lat, spec, row)
            if (
                all(_cond_ok(geom, c, layers, True) for c in spec.get("inside", []))
                and all(not _cond_ok(geom, c, layers, False) for c in spec.get("touch", []))
                and all(_cond_ok(geom, c, layers, False) for c in spec.get("avoid", []))
            ):
                return Placed(geom, (lon, lat), str(row.feature_id), row)
    raise LookupError(
        f"{sc.id}: no {spec['layer']} feature gives a site meeting inside={spec.get('inside')} "
        f"avoid={spec.get('avoid')} (data rebuilt? loosen the scenario)"
    )


def exits_of(sc: Scenario, placed: Placed) -> list[tuple[float, float]]:
    """Exit points of the project (offsets in metres from the site anchor)."""
    out = []
    for e, n in sc.project.get("exits_m", []):
        lon, lat = placed.anchor
        if e:
            lon, lat = fwd(lon, lat, 90.0 if e > 0 else 270.0, abs(e))
        if n:
            lon, lat = fwd(lon, lat, 0.0 if n > 0 else 180.0, abs(n))
        out.append((lon, lat))
    return out


def length_inside_pct(line: Any, area: Any) -> float:
    """Share (%) of a lon/lat line's geodesic length inside a lon/lat polygon."""
    total = GEOD.geometry_length(line)
    inside = GEOD.geometry_length(line.intersection(area))
    return 100.0 * inside / total if total else float("nan")


def area_inside_pct(poly: Any, area: Any) -> float:
    """Share (%) of a lon/lat polygon's geodesic area inside another lon/lat polygon."""
    total = abs(GEOD.geometry_area_perimeter(poly)[0])
    inside = abs(GEOD.geometry_area_perimeter(poly.intersection(area))[0])
    return 100.0 * inside / total if total else float("nan")


def to_gcj02(geom: Any) -> Any:
    """The WGS84 geometry in GCJ-02 (AMap) coordinates."""
    from geo.chinacoords import wgs84_to_gcj02

    def conv(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gx, gy = wgs84_to_gcj02(x, y)
        return np.asarray(gx, float), np.asarray(gy, float)

    return shapely.transform(geom, lambda xy: np.column_stack(conv(xy[:, 0], xy[:, 1])))
