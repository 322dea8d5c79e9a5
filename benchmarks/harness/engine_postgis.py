"""PostgreSQL + PostGIS 3, on a throw-away server on 127.0.0.1 (``tests/postgis_server.py``).

Load (reported apart from the task): a fresh database; every layer and the sites
``COPY``-ed in as hex EWKB (EPSG:4326), then ``CREATE TABLE ... AS SELECT fid, geom,
ST_Transform(geom, 4548) AS geom_m`` (the metric copy stored), GiST indexes on
both columns, ``ANALYZE``. The equal-area CRS of the harness is added to
``spatial_ref_sys`` (SRID 990001 for the check, 990002 for coverage).

Check (timed): per polygon layer ``JOIN ... ON ST_Intersects(s.geom, f.geom)``
(lon/lat topology), overlap areas as ``CASE WHEN ST_CoveredBy(s.geom, f.geom) THEN
ST_Area(ST_Transform(s.geom, ea)) ELSE ST_Area(ST_Transform(ST_Intersection(...), ea))
END`` (the usual PostGIS idiom); wells ``ST_DWithin(s.geom_m, w.geom_m, 30 × k)``; the
nearest red line by a ``LATERAL`` index-assisted KNN (``ORDER BY s.geom_m <-> r.geom_m
LIMIT 1``), then ``ST_DWithin`` at that distance times ``1 + tasks.NEAREST_TIE_REL``
(the polygons the plane cannot tell from the nearest, the least on the ellipsoid
winning). Each answer's ``ST_ShortestLine`` gives its ends, and the plane distance is
made ellipsoidal (:func:`benchmarks.harness.tasks.ellipsoidal_m`) before the 30 m and
10 km thresholds. Results come back through ``COPY (query) TO STDOUT``.

Coverage (timed): a table of service discs (``ST_Buffer(geom_m, radius,
'quad_segs=16')``) with a GiST index, then per parcel ``ST_Union`` of the parcel ∩
disc pieces and its equal-area area.

Session settings: ``work_mem = 256MB``; everything else as the test server sets it
(``shared_buffers = 64MB``, ``fsync = off``; parallel query on, 2 workers per
gather by default).
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable
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

NAME = "postgis"
# the plane's scale factor at the centre of a park's box (service radii on the ellipsoid)
_PARK_SCALE = scale_factor_sql(
    "(ST_XMin(geom_m) + ST_XMax(geom_m)) / 2", "(ST_YMin(geom_m) + ST_YMax(geom_m)) / 2"
)
# the ends of the shortest line ``l`` (plane coordinates), for the ellipsoidal distance
_ENDS = "ST_X(ST_StartPoint(l)), ST_Y(ST_StartPoint(l)), ST_X(ST_EndPoint(l)), ST_Y(ST_EndPoint(l))"
ROOT = Path(__file__).resolve().parents[2]
SRID_CHECK_EA = 990001
SRID_COVERAGE_EA = 990002
SESSION = ("SET work_mem = '256MB'",)


def _server_module() -> Any:
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import postgis_server

    return postgis_server


def unavailable_reason() -> str | None:
    """Why PostGIS cannot run here (None when it can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        return _server_module().postgis_unavailable_reason()
    except ImportError as exc:
        return f"tests/postgis_server.py not importable: {exc}"


def start_server(tmpdir: Path) -> tuple[str, Callable[[], None]]:
    """Start the throw-away server; return its URL and ``stop``."""
    return _server_module().start_postgis(tmpdir)


def fresh_database(url: str, name: str) -> str:
    """Create (or re-create) database ``name`` on the server; return its URL."""
    return _server_module().fresh_database(url, name)


def versions(url: str | None = None) -> dict[str, str]:
    """PostgreSQL and PostGIS versions (asks the server when ``url`` is given)."""
    import psycopg

    out = {"psycopg": psycopg.__version__}
    if url:
        with psycopg.connect(url) as con:
            out["postgresql"] = con.execute("SHOW server_version").fetchone()[0]
            out["postgis"] = con.execute("SELECT postgis_full_version()").fetchone()[0]
    return out


def server_pids(url: str) -> Callable[[], list[int]]:
    """A function listing the server's processes (postmaster and its children)."""
    import psutil
    import psycopg

    with psycopg.connect(url) as con:
        data_dir = con.execute("SHOW data_directory").fetchone()[0]
    pid = int(Path(data_dir, "postmaster.pid").read_text().split()[0])

    def pids() -> list[int]:
        try:
            p = psutil.Process(pid)
            return [pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    return pids


# --------------------------------------------------------------------------- loading


def _copy_table(
    con: Any, table: str, geoms: np.ndarray, *, extra: dict[str, np.ndarray] | None = None,
    metric: bool = True,
) -> None:  # fmt: skip
    """COPY geometries (lon/lat) into ``table`` with ``fid`` 0…n-1 and a metric copy."""
    extra = extra or {}
    hexes = shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), 4326), hex=True,
                           include_srid=True)  # fmt: skip
    cols = {"fid": np.arange(len(geoms)).astype(str), **{k: np.asarray(v).astype(str)
            for k, v in extra.items()}, "geom": hexes}  # fmt: skip
    text = pd.DataFrame(cols).to_csv(sep="\t", header=False, index=False)
    decl = ", ".join(f"{k} double precision" for k in extra)
    decl = f"fid integer, {decl + ', ' if decl else ''}geom geometry(Geometry, 4326)"
    con.execute(f"DROP TABLE IF EXISTS {table}_stage; CREATE UNLOGGED TABLE {table}_stage ({decl})")
    with con.cursor() as cur:
        with cur.copy(f"COPY {table}_stage ({', '.join(cols)}) FROM STDIN") as cp:
            cp.write(text)
    sel = ", ".join(["fid", *extra, "geom"])
    metric_col = f", ST_Transform(geom, {METRIC_EPSG}) AS geom_m" if metric else ""
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"CREATE TABLE {table} AS SELECT {sel}{metric_col} FROM {table}_stage")
    con.execute(f"DROP TABLE {table}_stage")
    con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (fid)")
    con.execute(f"CREATE INDEX ON {table} USING GIST (geom)")
    if metric:
        con.execute(f"CREATE INDEX ON {table} USING GIST (geom_m)")


def _add_srid(con: Any, srid: int, crs: Any) -> None:
    """Register ``crs`` as ``srid`` (PostGIS reads the WKT; the PROJ string is for people)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "you will likely lose ... information"
        proj4 = crs.to_proj4()
    con.execute("DELETE FROM spatial_ref_sys WHERE srid = %s", (srid,))
    con.execute(
        "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
        "VALUES (%s, NULL, NULL, %s, %s)",
        (srid, crs.to_wkt("WKT1_GDAL"), proj4),
    )


def _connect(url: str) -> Any:
    import psycopg

    con = psycopg.connect(url, autocommit=True)
    for s in SESSION:
        con.execute(s)
    return con


def load_check(
    layers: dict[str, gpd.GeoDataFrame], sites: gpd.GeoDataFrame, *, url: str
) -> dict[str, Any]:
    """Load layers and sites, index, analyse."""
    con = _connect(url)
    try:
        _load_check_tables(con, layers, sites)
    except BaseException:
        con.close()
        raise
    areal = bool(len(sites)) and bool(sites.geom_type.isin(["Polygon", "MultiPolygon"]).all())
    return {"con": con, "areal": areal, "n": len(sites)}


def _load_check_tables(
    con: Any, layers: dict[str, gpd.GeoDataFrame], sites: gpd.GeoDataFrame
) -> None:
    from benchmarks.harness.dataset import check_ea_crs

    _add_srid(con, SRID_CHECK_EA, check_ea_crs(layers))
    for kind in (*POLYGON_KINDS, "well"):
        _copy_table(con, f"l_{kind}", layers[kind].geometry.to_numpy(),
                    metric=kind in ("well", "redline"))  # fmt: skip
    _copy_table(con, "sites", sites.geometry.to_numpy())
    con.execute("ANALYZE")


def _fetch(con: Any, query: str, names: list[str]) -> pd.DataFrame:
    buf = io.BytesIO()
    with con.cursor() as cur:
        with cur.copy(f"COPY ({query}) TO STDOUT") as cp:
            for chunk in cp:
                buf.write(chunk)
    buf.seek(0)
    if buf.getbuffer().nbytes == 0:
        return pd.DataFrame({n: pd.Series(dtype="float64") for n in names})
    return pd.read_csv(buf, sep="\t", header=None, names=names, na_values=["\\N"])


def run_check(state: dict[str, Any], sites: gpd.GeoDataFrame) -> CheckAnswer:
    """The timed task: one query per question, results fetched with COPY."""
    con = state["con"]
    parts = []
    for kind in POLYGON_KINDS:
        if state["areal"]:
            ea = SRID_CHECK_EA
            q = (
                f"SELECT s.fid, f.fid, CASE WHEN ST_CoveredBy(s.geom, f.geom) "
                f"THEN ST_Area(ST_Transform(s.geom, {ea})) "
                f"ELSE ST_Area(ST_Transform(ST_Intersection(s.geom, f.geom), {ea})) END "
                f"FROM sites s JOIN l_{kind} f ON ST_Intersects(s.geom, f.geom)"
            )
        else:
            q = (
                f"SELECT s.fid, f.fid, NULL FROM sites s "
                f"JOIN l_{kind} f ON ST_Intersects(s.geom, f.geom)"
            )
        df = _fetch(con, q, ["site", "feature", "overlap_m2"])
        df.insert(1, "kind", kind)
        parts.append(df)
    pairs = pd.concat(parts, ignore_index=True)
    ends = ["ax", "ay", "bx", "by"]
    w = _fetch(
        con,
        f"SELECT site, feature, d, {_ENDS} FROM (SELECT s.fid AS site, w.fid AS feature, "
        "ST_Distance(s.geom_m, w.geom_m) AS d, ST_ShortestLine(s.geom_m, w.geom_m) AS l "
        f"FROM sites s JOIN l_well w ON ST_DWithin(s.geom_m, w.geom_m, {WELL_M * PLANE_K_MAX})) q",
        ["site", "feature", "d", *ends],
    )
    d = ellipsoidal_m(*(w[c].to_numpy(dtype=np.float64) for c in ("d", *ends)))
    keep = d <= WELL_M
    wells = pd.DataFrame(
        {"site": w["site"].to_numpy()[keep], "feature": w["feature"].to_numpy()[keep],
         "distance_m": d[keep]}
    )  # fmt: skip
    # the KNN nearest, then every polygon the plane cannot tell from it
    # (tasks.NEAREST_TIE_REL), each measured on the ellipsoid
    near = _fetch(
        con,
        f"SELECT fid, d, {_ENDS} FROM (SELECT s.fid, ST_Distance(s.geom_m, r.geom_m) AS d, "
        "ST_ShortestLine(s.geom_m, r.geom_m) AS l FROM sites s CROSS JOIN LATERAL ("
        "SELECT ST_Distance(s.geom_m, r.geom_m) AS d "
        f"FROM l_redline r ORDER BY s.geom_m <-> r.geom_m LIMIT 1) n "
        "JOIN l_redline r ON ST_DWithin(s.geom_m, r.geom_m, "
        f"n.d * {1 + NEAREST_TIE_REL!r} + {NEAREST_TIE_M!r}) "
        f"WHERE n.d <= {NEAREST_MAX_M * PLANE_K_MAX}) q",
        ["site", "d", *ends],
    )
    site, d = least_per_site(*(near[c].to_numpy(dtype=np.float64) for c in ("site", "d", *ends)))
    nearest = np.full(state["n"], np.nan)
    nearest[site] = np.where(d <= NEAREST_MAX_M, d, np.nan)
    return CheckAnswer(state["n"], pairs, wells, nearest)


def check_answer(state: dict[str, Any], sites: gpd.GeoDataFrame, result: Any) -> CheckAnswer:
    """The task already returns the answer shape."""
    return result


def load_coverage(
    parks: gpd.GeoDataFrame, residential: gpd.GeoDataFrame, *, url: str
) -> dict[str, Any]:
    """Load parks (with ``area_m2``) and parcels, index, analyse."""
    from benchmarks.harness.dataset import coverage_ea_crs

    con = _connect(url)
    try:
        _add_srid(con, SRID_COVERAGE_EA, coverage_ea_crs(residential))
        _copy_table(con, "l_park", parks.geometry.to_numpy(),
                    extra={"area_m2": parks["area_m2"].to_numpy(dtype="float64")})  # fmt: skip
        _copy_table(con, "l_residential", residential.geometry.to_numpy())
        con.execute("ANALYZE")
    except BaseException:
        con.close()
        raise
    return {"con": con, "n": len(residential)}


def run_coverage(state: dict[str, Any]) -> CoverageAnswer:
    """The timed task: service discs, join, per-parcel union of the covered pieces."""
    con = state["con"]
    (big_a, big_r), (small_a, small_r) = COVERAGE_TIERS
    con.execute("DROP TABLE IF EXISTS discs")
    con.execute(
        "CREATE TABLE discs AS SELECT fid, ST_Buffer(geom_m, (CASE WHEN area_m2 >= "
        f"{big_a} THEN {big_r} ELSE {small_r} END) * {_PARK_SCALE}, 'quad_segs=16') AS geom "
        f"FROM l_park WHERE area_m2 >= {small_a}"
    )
    con.execute("CREATE INDEX ON discs USING GIST (geom)")
    con.execute("ANALYZE discs")
    ea = SRID_COVERAGE_EA
    cov = _fetch(
        con,
        f"SELECT r.fid, ST_Area(ST_Transform(ST_Union(ST_Intersection(r.geom_m, d.geom)), {ea})) "
        "FROM l_residential r JOIN discs d ON ST_Intersects(r.geom_m, d.geom) GROUP BY r.fid",
        ["fid", "covered"],
    )
    res = _fetch(
        con, f"SELECT fid, ST_Area(ST_Transform(geom_m, {ea})) FROM l_residential", ["fid", "a"]
    )
    area = np.zeros(state["n"])
    area[res["fid"].to_numpy(dtype=np.int64)] = res["a"].to_numpy()
    covered = np.zeros(state["n"])
    covered[cov["fid"].to_numpy(dtype=np.int64)] = cov["covered"].to_numpy()
    return CoverageAnswer(area, covered)


def coverage_answer(state: dict[str, Any], result: Any) -> CoverageAnswer:
    """The task already returns the answer shape."""
    return result


def close(state: dict[str, Any]) -> None:
    """Close the connection."""
    state["con"].close()


def load_pip(redline: gpd.GeoDataFrame, points: gpd.GeoDataFrame, *, url: str) -> dict[str, Any]:
    """COPY the red line and the points (lon/lat), GiST indexes, analyse."""
    con = _connect(url)
    try:
        _copy_table(con, "l_redline", redline.geometry.to_numpy(), metric=False)
        _copy_table(con, "pts", points.geometry.to_numpy(), metric=False)
        con.execute("ANALYZE")
    except BaseException:
        con.close()
        raise
    return {"con": con, "n": len(points)}


def run_pip(state: dict[str, Any]) -> Any:
    """The timed call: an index-assisted ``ST_Intersects`` join, fetched with COPY."""
    from benchmarks.harness.tasks import PipAnswer

    df = _fetch(
        state["con"],
        "SELECT s.fid, f.fid FROM pts s JOIN l_redline f ON ST_Intersects(s.geom, f.geom)",
        ["p", "g"],
    )
    return PipAnswer(state["n"], df["p"].to_numpy(dtype=np.int64), df["g"].to_numpy(dtype=np.int64))
