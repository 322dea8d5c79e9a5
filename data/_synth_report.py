"""Measured figures of a built demo store, as Markdown tables for ``data/README.md``.

Run ``.venv/bin/python data/_synth_report.py [data/ecozone_demo.gpkg]``. Areas are
ellipsoidal (:func:`geo.measure.geodesic_area`, GRS80); park service coverage is
measured in EPSG:4548 with the GB/T 50563-2010 tiers. Used only by the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _synth_urban import SERVICE_TIERS  # noqa: E402
from build_dataset import DEMO_KINDS  # noqa: E402

# Official areas (km²) used as the check of the real boundaries.
OFFICIAL_KM2 = {
    "110000": 16410.54,
    "110101": 41.84,
    "110102": 50.53,
    "110105": 470.8,
    "110106": 305.8,
    "110107": 84.32,
    "110108": 430.77,
    "110109": 1447.85,
    "110111": 1989.54,
    "110112": 906.28,
    "110113": 1019.89,
    "110114": 1343.54,
    "110115": 1036.32,
    "110116": 2122.62,
    "110117": 950.13,
    "110118": 2229.45,
    "110119": 1994.88,
}


def _area(geoms: np.ndarray) -> np.ndarray:
    from geo.measure import geodesic_area

    return np.asarray(geodesic_area(geoms, "EPSG:4326"), dtype=float)


def park_coverage(parks: gpd.GeoDataFrame, homes: gpd.GeoDataFrame) -> float:
    """Share of residential land within a counted park's service radius (0–1).

    Residential land inside one park's service buffer counts whole; parcels cut by
    buffer edges count the part inside the union of the buffers they touch.
    """
    p = parks.to_crs("EPSG:4548")
    h = homes.to_crs("EPSG:4548").geometry.values
    area = p["area_m2"].to_numpy()
    bufs = []
    upper = np.inf
    for min_area, radius in SERVICE_TIERS:
        m = (area >= min_area) & (area < upper)
        upper = min_area
        bufs.append(shapely.buffer(p.geometry.values[m], radius, quad_segs=16))
    buf = np.concatenate(bufs)
    tree = shapely.STRtree(buf)
    inside = np.zeros(h.size, dtype=bool)
    inside[np.unique(tree.query(h, predicate="within")[0])] = True
    i, j = tree.query(h, predicate="intersects")
    part = ~inside[i]
    i, j = i[part], j[part]
    covered = np.where(inside, shapely.area(h), 0.0)
    if i.size:
        pieces = gpd.GeoDataFrame(
            {"i": i}, geometry=shapely.intersection(h[i], buf[j]), crs="EPSG:4548"
        )
        merged = pieces.dissolve(by="i")
        covered[merged.index.to_numpy()] = merged.area.to_numpy()
    return float(covered.sum() / shapely.area(h).sum())


def sponge_shares(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, float]:
    """Sponge-city share of the built-up area (0–1): Beijing, and within Tongzhou."""
    bu, sp = layers["built_up"], layers["sponge"]
    out = {}
    for label, sel in (("Beijing", slice(None)), ("Tongzhou", bu["adcode"] == "110112")):
        area = shapely.union_all(bu.geometry.values[sel])
        covered = shapely.intersection(shapely.union_all(sp.geometry.values), area)
        out[label] = float(_area(np.array([covered]))[0] / _area(np.array([area]))[0])
    return out


def companion_markdown(path: str | Path) -> str:
    """Figures of the land-cover raster and the plains file beside a store.

    Forest shares are measured with :func:`zoning.coverage.measure.forest_share` (fractional
    edge pixels, exactextract), class shares by pixel count.
    """
    import rasterio

    from zoning.coverage.measure import forest_share

    folder = Path(path).parent
    tif, pl_path = folder / "landcover_demo.tif", folder / "plains_demo.geojson"
    b = pyogrio.read_dataframe(path, layer="boundary")
    plains = pyogrio.read_dataframe(pl_path)
    pl_km2 = float(_area(plains.geometry.values).sum()) / 1e6
    bj_km2 = float(_area(b.loc[b["adcode"] == "110000"].geometry.values)[0]) / 1e6
    lines = [
        f"plains: {pl_km2:,.1f} km² ({100 * pl_km2 / bj_km2:.1f} % of Beijing), "
        f"{shapely.get_num_coordinates(plains.geometry.values).sum():,} vertices, "
        f"{pl_path.stat().st_size / 1e3:,.0f} kB",
        "",
        "| area | forest share | target |",
        "|---|---:|---:|",
    ]
    areas = (
        ("北京市 Beijing", b.loc[b["adcode"] == "110000"], "45 % (001 l.378)"),
        ("平原地区 plains", plains, "32 % (001 l.382)"),
        ("通州区 Tongzhou (sub-centre)", b.loc[b["adcode"] == "110112"], "36.5 % (001 l.577)"),
    )
    for label, area, target in areas:
        lines.append(f"| {label} | {forest_share(tif, area).value:.2f} % | {target} |")
    with rasterio.open(tif) as src:
        data = src.read(1)
        head = (
            f"{tif.name}: {src.width} × {src.height} px of {src.res[0]:g} m, {src.crs}, "
            f"{tif.stat().st_size / 1e6:.2f} MB, overviews {src.overviews(1)}"
        )
    codes, counts = np.unique(data[data > 0], return_counts=True)
    shares = ", ".join(
        f"{c}: {100 * n / counts.sum():.1f} %" for c, n in zip(codes, counts, strict=True)
    )
    return "\n".join([head, "", f"classes (share of pixels): {shares}", "", *lines])


def summary_markdown(path: str | Path) -> str:
    """Markdown tables of the boundary area check and the layer figures of a store."""
    read = lambda name: pyogrio.read_dataframe(path, layer=name)  # noqa: E731
    b = read("boundary")
    b_area = dict(zip(b["adcode"], _area(b.geometry.values) / 1e6, strict=True))
    lines = [
        "| adcode | district | official km² | measured km² | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for code, off in OFFICIAL_KM2.items():
        name = b.loc[b["adcode"] == code, "name"].iloc[0]
        got = b_area[code]
        lines.append(
            f"| {code} | {name} | {off:,.2f} | {got:,.2f} | {100 * (got / off - 1):+.2f} % |"
        )
    bj = b_area["110000"] * 1e6
    lines += [
        "",
        "| layer | features | area km² | share of Beijing | notes |",
        "|---|---:|---:|---:|---|",
    ]
    layers = {k: read(k) for k in DEMO_KINDS}
    for k, g in layers.items():
        geoms = g.geometry.values
        polys = shapely.get_type_id(geoms) != 0
        if polys.any():
            a = float(_area(np.array([shapely.union_all(geoms[polys])]))[0])
            area, share = f"{a / 1e6:,.2f}", f"{100 * a / bj:.2f} %"
        else:
            area, share = "", ""
        note = ""
        if k == "water_source_zone":
            note = ", ".join(f"grade {gr}: {n}" for gr, n in g["grade"].value_counts().items())
        elif k == "park":
            q = np.percentile(g["area_m2"], [0, 50, 100])
            note = f"area_m2 min {q[0]:,.0f}, median {q[1]:,.0f}, max {q[2]:,.0f}"
        elif k == "residential":
            q = np.percentile(g["area_m2"] / 1e4, [5, 50, 95])
            cov = park_coverage(layers["park"], g)
            note = (
                f"parcel 5/50/95 %: {q[0]:.2f}/{q[1]:.2f}/{q[2]:.2f} ha; population "
                f"{g['population'].sum():,.0f}; park service coverage {100 * cov:.1f} %"
            )
        elif k == "control_unit":
            note = ", ".join(f"{c}: {n}" for c, n in g["category"].value_counts().items())
        elif k == "pollution_source":
            key = layers["tongzhou_key_area"].geometry.iloc[0]
            n_key = int(shapely.contains(key, g.geometry.values).sum())
            note = f"{n_key} inside the key area"
        elif k == "sponge":
            note = "; ".join(f"{n} {100 * v:.2f} %" for n, v in sponge_shares(layers).items())
        lines.append(f"| {k} | {len(g):,} | {area} | {share} | {note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    store = sys.argv[1] if len(sys.argv) > 1 else _HERE / "ecozone_demo.gpkg"
    print(summary_markdown(store))
    print()
    print(companion_markdown(store))
