"""DuckDB with its spatial extension, loaded offline from the ``duckdb-ext-spatial`` wheel.

Install the pair with matching versions (the wheel's folder is named after the DuckDB
version it was built for)::

    .venv/bin/pip install duckdb==1.4.4 duckdb-ext-spatial==1.4.4.20260205

Load (reported apart from the task): an in-memory database; every layer and the
sites inserted from WKB (``ST_GeomFromWKB``) with a stored EPSG:4548 copy
(``ST_Transform(..., 'EPSG:4326', 'EPSG:4548', always_xy := true)``) and an R-tree
index (``CREATE INDEX ... USING RTREE``) on each geometry column. DuckDB's planner
runs the joins below with its ``SPATIAL_JOIN`` operator, which builds its own R-tree
over one side per query; the persistent RTREE index serves constant-geometry
filters (``EXPLAIN`` shows the plans).

Check (timed): per polygon layer a ``JOIN ... ON ST_Intersects(s.geom, f.geom)``,
overlap areas with the same ``CASE WHEN ST_CoveredBy`` idiom as PostGIS; wells by an
``ST_DWithin(..., 30 × k)`` join; the nearest red line, which DuckDB has no KNN operator
for, by ``ST_DWithin`` joins at growing radii (250 m, 1 km, 4 km, 10 km × k) over the
sites not yet answered, keeping per site every feature within
``tasks.NEAREST_TIE_REL`` of its nearest (a window ``min``; exact: every feature within
the radius is a candidate), the least on the ellipsoid winning. Each answer's shortest line
(``ST_ShortestLine``) gives its ends, and the plane distance is made ellipsoidal
(:func:`benchmarks.harness.tasks.ellipsoidal_m`) before the 30 m and 10 km thresholds.

Coverage (timed): service discs (``ST_Buffer(geom_m, radius, 16)``), a join with the
parcels, ``ST_Union_Agg`` of the parcel ∩ disc pieces per parcel, equal-area areas.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from benchmarks.harness.tasks import (
    COVERAGE_TIERS,
    METRIC_EPSG,
    NEAREST_MAX_M,
    NEAREST_TIE_M,
    NEAREST_TIE_REL,
    PLANE_K_MAX,
    POLYGON_KINDS,
    WELL_M,
    CheckAnswer,
    CoverageAnswer,
    ellipsoidal_m,
    least_per_site,
    scale_factor_sql,
)

NAME = "duckdb"
# the plane's scale factor at the centre of a park's box (service radii on the ellipsoid)
_PARK_SCALE = scale_factor_sql(
    "(ST_XMin(geom_m) + ST_XMax(geom_m)) / 2", "(ST_YMin(geom_m) + ST_YMax(geom_m)) / 2"
)
NEAREST_STEPS_M = (250.0, 1000.0, 4000.0, NEAREST_MAX_M * PLANE_K_MAX)
# the ends of the shortest line ``l`` (plane coordinates), for the ellipsoidal distance
_ENDS = (
    "ST_X(ST_StartPoint(l)) AS ax, ST_Y(ST_StartPoint(l)) AS ay, "
    "ST_X(ST_EndPoint(l)) AS bx, ST_Y(ST_EndPoint(l)) AS by"
)


def extension_path() -> Path | None:
    """The spatial extension file of the ``duckdb-ext-spatial`` wheel for this DuckDB."""
    import duckdb

    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        found = sorted(
            Path(base).glob(f"extensions/v{duckdb.__version__}/*/spatial.duckdb_extension")
        )
        if found:
            return found[0]
    return None


def connect() -> Any:
    """An in-memory DuckDB with the spatial extension loaded from the wheel (no network)."""
    import duckdb

    path = extension_path()
    if path is None:
        msg = (
            f"no spatial extension for DuckDB {duckdb.__version__} in the duckdb-ext-spatial "
            "wheel; install a matching pair, e.g. pip install duckdb==1.4.4 "
            "duckdb-ext-spatial==1.4.4.20260205"
        )
        raise RuntimeError(msg)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute(f"LOAD '{path}'")
    return con


def unavailable_reason() -> str | None:
    """Why DuckDB spatial cannot run here (None when it can)."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return (
            "duckdb is not installed (pip install duckdb==1.4.4 duckdb-ext-spatial==1.4.4.20260205)"
        )
    try:
        con = connect()
        con.execute("SELECT ST_AsText(ST_Point(1, 2))").fetchone()
        con.close()
    except Exception as exc:  # any failure means "cannot load offline"
        return f"DuckDB spatial extension does not load offline: {exc}"
    return None


def versions() -> dict[str, str]:
    """DuckDB and spatial-extension versions."""
    import duckdb

    out = {"duckdb": duckdb.__version__}
    try:
        from importlib.metadata import version

        out["duckdb-ext-spatial"] = version("duckdb-ext-spatial")
        con = connect()
        row = con.execute(
            "SELECT extension_version FROM duckdb_extensions() WHERE extension_name = 'spatial'"
        ).fetchone()
        out["spatial_extension_build"] = str(row[0]) if row else "?"
        con.close()
    except Exception as exc:
        out["spatial_extension_build"] = f"not loadable: {exc}"
    return out


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _insert(con: Any, table: str, geoms: np.ndarray, *, extra: dict[str, np.ndarray] | None = None,
            metric: bool = True) -> None:  # fmt: skip
    """Insert lon/lat geometries as ``table(fid, [extra], geom, geom_m)`` with R-tree indexes."""
    df = pd.DataFrame(
        {"fid": np.arange(len(geoms), dtype=np.int64), **(extra or {}),
         "wkb": shapely.to_wkb(np.asarray(geoms, dtype=object))}
    )  # fmt: skip
    con.register("_in", df)
    cols = ", ".join(["fid", *(extra or {})])
    metric_col = (
        f", ST_Transform(ST_GeomFromWKB(wkb), 'EPSG:4326', 'EPSG:{METRIC_EPSG}', always_xy := true)"
        " AS geom_m"
        if metric
        else ""
    )
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {cols}, ST_GeomFromWKB(wkb) AS geom"
                f"{metric_col} FROM _in")  # fmt: skip
    con.unregister("_in")
    con.execute(f"CREATE INDEX {table}_rt ON {table} USING RTREE (geom)")
    if metric:
        con.execute(f"CREATE INDEX {table}_rt_m ON {table} USING RTREE (geom_m)")


def load_check(layers: dict[str, gpd.GeoDataFrame], sites: gpd.GeoDataFrame) -> dict[str, Any]:
    """Insert layers and sites, build R-tree indexes."""
    from benchmarks.harness.dataset import check_ea_crs

    con = connect()
    for kind in (*POLYGON_KINDS, "well"):
        _insert(con, f"l_{kind}", layers[kind].geometry.to_numpy(),
                metric=kind in ("well", "redline"))  # fmt: skip
    _insert(con, "sites", sites.geometry.to_numpy())
    areal = bool(len(sites)) and bool(sites.geom_type.isin(["Polygon", "MultiPolygon"]).all())
    ea = _sql_text(check_ea_crs(layers).to_wkt())
    return {"con": con, "areal": areal, "n": len(sites), "ea": ea}


def run_check(state: dict[str, Any], sites: gpd.GeoDataFrame) -> CheckAnswer:
    """The timed task: one join per question (growing radii for the nearest red line)."""
    con, ea = state["con"], state["ea"]
    parts = []
    for kind in POLYGON_KINDS:
        if state["areal"]:
            area = (
                f"CASE WHEN ST_CoveredBy(s.geom, f.geom) "
                f"THEN ST_Area(ST_Transform(s.geom, 'EPSG:4326', {ea}, always_xy := true)) "
                f"ELSE ST_Area(ST_Transform(ST_Intersection(s.geom, f.geom), 'EPSG:4326', {ea}, "
                f"always_xy := true)) END"
            )
        else:
            area = "NULL::DOUBLE"
        df = con.execute(
            f"SELECT s.fid AS site, f.fid AS feature, {area} AS overlap_m2 "
            f"FROM sites s JOIN l_{kind} f ON ST_Intersects(s.geom, f.geom)"
        ).df()
        df.insert(1, "kind", kind)
        parts.append(df)
    pairs = pd.concat(parts, ignore_index=True)
    w = con.execute(
        f"SELECT site, feature, d, {_ENDS} FROM ("
        "SELECT s.fid AS site, w.fid AS feature, ST_Distance(s.geom_m, w.geom_m) AS d, "
        "ST_ShortestLine(s.geom_m, w.geom_m) AS l "
        f"FROM sites s JOIN l_well w ON ST_DWithin(s.geom_m, w.geom_m, {WELL_M * PLANE_K_MAX}))"
    ).df()
    d = ellipsoidal_m(w["d"], w["ax"], w["ay"], w["bx"], w["by"])
    keep = d <= WELL_M
    wells = pd.DataFrame(
        {"site": w["site"][keep], "feature": w["feature"][keep], "distance_m": d[keep]}
    ).reset_index(drop=True)
    con.execute("CREATE OR REPLACE TEMP TABLE todo AS SELECT fid, geom_m FROM sites")
    con.execute("CREATE OR REPLACE TEMP TABLE nearest (fid BIGINT, rfid BIGINT, d DOUBLE)")
    for r in NEAREST_STEPS_M:
        # every polygon the plane cannot tell from the nearest (tasks.NEAREST_TIE_REL); a
        # site whose band reaches beyond this step's radius waits for the next step
        reach = f"dmin * {1 + NEAREST_TIE_REL!r} + {NEAREST_TIE_M!r}"
        last = r == NEAREST_STEPS_M[-1]
        con.execute(
            "INSERT INTO nearest SELECT fid, rfid, d FROM (SELECT fid, rfid, d, "
            "min(d) OVER (PARTITION BY fid) AS dmin FROM (SELECT s.fid, r.fid AS rfid, "
            "ST_Distance(s.geom_m, r.geom_m) AS d FROM todo s JOIN l_redline r "
            f"ON ST_DWithin(s.geom_m, r.geom_m, {r}))) WHERE d <= {reach}"
            + ("" if last else f" AND {reach} <= {r}")
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE todo AS SELECT t.fid, t.geom_m FROM todo t "
            "ANTI JOIN nearest n ON t.fid = n.fid"
        )
    near = con.execute(
        f"SELECT fid, d, {_ENDS} FROM (SELECT n.fid, n.d, ST_ShortestLine(s.geom_m, r.geom_m) AS l "
        "FROM nearest n JOIN sites s ON s.fid = n.fid JOIN l_redline r ON r.fid = n.rfid)"
    ).fetchnumpy()
    site, d = least_per_site(near["fid"], near["d"], near["ax"], near["ay"], near["bx"], near["by"])
    nearest = np.full(state["n"], np.nan)
    nearest[site] = np.where(d <= NEAREST_MAX_M, d, np.nan)
    return CheckAnswer(state["n"], pairs, wells, nearest)


def check_answer(state: dict[str, Any], sites: gpd.GeoDataFrame, result: Any) -> CheckAnswer:
    """The task already returns the answer shape."""
    return result


def load_coverage(parks: gpd.GeoDataFrame, residential: gpd.GeoDataFrame) -> dict[str, Any]:
    """Insert parks (with ``area_m2``) and parcels, build R-tree indexes."""
    from benchmarks.harness.dataset import coverage_ea_crs

    con = connect()
    _insert(con, "l_park", parks.geometry.to_numpy(),
            extra={"area_m2": parks["area_m2"].to_numpy(dtype="float64")})  # fmt: skip
    _insert(con, "l_residential", residential.geometry.to_numpy())
    ea = _sql_text(coverage_ea_crs(residential).to_wkt())
    return {"con": con, "n": len(residential), "ea": ea}


def run_coverage(state: dict[str, Any]) -> CoverageAnswer:
    """The timed task: service discs, join, per-parcel union of the covered pieces."""
    con, ea = state["con"], state["ea"]
    (big_a, big_r), (small_a, small_r) = COVERAGE_TIERS
    con.execute(
        "CREATE OR REPLACE TABLE discs AS SELECT fid, ST_Buffer(geom_m, (CASE WHEN area_m2 >= "
        f"{big_a} THEN {big_r} ELSE {small_r} END) * {_PARK_SCALE}, 16) AS geom FROM l_park "
        f"WHERE area_m2 >= {small_a}"
    )
    to_ea = f"'EPSG:{METRIC_EPSG}', {ea}, always_xy := true"
    cov = con.execute(
        f"SELECT r.fid, ST_Area(ST_Transform(ST_Union_Agg(ST_Intersection(r.geom_m, d.geom)), "
        f"{to_ea})) AS covered FROM l_residential r JOIN discs d "
        "ON ST_Intersects(r.geom_m, d.geom) GROUP BY r.fid"
    ).fetchnumpy()
    res = con.execute(
        f"SELECT fid, ST_Area(ST_Transform(geom_m, {to_ea})) AS a FROM l_residential"
    ).fetchnumpy()
    area = np.zeros(state["n"])
    area[np.asarray(res["fid"], dtype=np.int64)] = res["a"]
    covered = np.zeros(state["n"])
    covered[np.asarray(cov["fid"], dtype=np.int64)] = cov["covered"]
    return CoverageAnswer(area, covered)


def coverage_answer(state: dict[str, Any], result: Any) -> CoverageAnswer:
    """The task already returns the answer shape."""
    return result


def close(state: dict[str, Any]) -> None:
    """Close the connection."""
    state["con"].close()


def load_pip(redline: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> dict[str, Any]:
    """Insert the red line and the points (lon/lat) with R-tree indexes."""
    con = connect()
    _insert(con, "l_redline", redline.geometry.to_numpy(), metric=False)
    _insert(con, "pts", points.geometry.to_numpy(), metric=False)
    return {"con": con, "n": len(points)}


def run_pip(state: dict[str, Any]) -> Any:
    """The timed call: one ``ST_Intersects`` join (DuckDB's SPATIAL_JOIN, all its threads)."""
    from benchmarks.harness.tasks import PipAnswer

    sql = (
        "SELECT s.fid AS p, f.fid AS g FROM pts s JOIN l_redline f ON ST_Intersects(s.geom, f.geom)"
    )
    r = state["con"].execute(sql).fetchnumpy()
    return PipAnswer(state["n"], np.asarray(r["p"]), np.asarray(r["g"]))
