"""Synthetic built-up land, red lines, ecological control zones, wells and source zones.

All geometry is generated in EPSG:4548 (metres); callers convert to EPSG:4326.
Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from _synth_context import DAXING, METRIC_CRS, TONGZHOU, Context
from _synth_shapes import polar_blobs, random_walks, sample_points, scale_about
from numpy.typing import NDArray

# Urban core and new towns: (lon, lat, base radius in km). Approximate public
# locations; the radii are scaled together so the built-up share hits its target.
TOWNS: tuple[tuple[str, float, float, float], ...] = (
    ("中心城区", 116.3975, 39.9087, 16.0),
    ("通州新城", 116.665, 39.895, 5.5),
    ("亦庄新城", 116.51, 39.79, 3.8),
    ("大兴新城", 116.33, 39.73, 3.8),
    ("顺义新城", 116.65, 40.13, 5.0),
    ("首都机场", 116.60, 40.07, 3.2),
    ("回龙观—天通苑", 116.36, 40.07, 4.5),
    ("昌平新城", 116.23, 40.21, 4.0),
    ("房山新城良乡", 116.15, 39.73, 4.0),
    ("燕山", 115.97, 39.72, 2.5),
    ("门头沟新城", 116.10, 39.93, 2.8),
    ("怀柔新城", 116.64, 40.32, 3.0),
    ("密云新城", 116.85, 40.37, 3.0),
    ("平谷新城", 117.12, 40.14, 3.0),
    ("延庆新城", 115.97, 40.46, 3.0),
    ("大兴机场", 116.41, 39.51, 3.0),
)

_SURNAMES = (
    "张王李赵刘陈杨黄周吴马孙朱胡郭何高林罗郑梁谢宋唐韩冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾丁"
    "魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷"
    "钱汤尹易常武乔贺龚文"
)
_SUFFIXES = (
    "庄",
    "各庄",
    "家务",
    "辛庄",
    "家营",
    "家屯",
    "家店",
    "家坟",
    "家坨",
    "家场",
    "家堡",
    "家湾",
    "家洼",
    "家疃",
    "家台",
)
_PREFIXES = ("", "东", "西", "南", "北", "前", "后", "大", "小")


@dataclass
class BuiltUp:
    """Generated built-up land.

    Attributes
    ----------
    urban
        Urban core and new towns (clipped to Beijing), the land of parks and homes.
    villages
        Village polygons (GeoDataFrame: ``name``, ``adcode``, ``x``, ``y``, ``radius``).
    all
        Union of urban land and villages: everything outside the ecological control zone.
    """

    urban: shapely.Geometry
    villages: gpd.GeoDataFrame
    all: shapely.Geometry


def village_names(rng: np.random.Generator, n: int) -> NDArray[np.object_]:
    """``n`` distinct plausible village names (e.g. "东王各庄"), synthetic."""
    combos = np.array(
        [p + s + x for p in _PREFIXES for s in _SURNAMES for x in _SUFFIXES], dtype=object
    )
    if n > combos.size:
        reps = rng.integers(1, 10, n - combos.size)
        extra = np.array([f"{combos[i % combos.size]}{r}" for i, r in enumerate(reps)])
        return np.concatenate([rng.permutation(combos), extra])[:n]
    return rng.choice(combos, n, replace=False)


def built_up(ctx: Context, rng: np.random.Generator, *, target_share: float = 0.27) -> BuiltUp:
    """Urban core, new towns and villages covering ``target_share`` of Beijing.

    The complement is the ecological control zone, so ``target_share`` 0.27 gives an
    ecological-control share near 73 % (Beijing's 2025 target is 75 %).
    """
    # towns: one blob each, then one common radius factor found by bisection
    tx, ty = np.array([ctx.xy(lo, la) for _, lo, la, _ in TOWNS]).T
    tr = np.array([r for *_, r in TOWNS]) * 1000.0
    towns_unit = polar_blobs(rng, tx, ty, tr, spacing=150, roughness=0.3, elongation=0.4)

    # township seats (乡镇驻地): mid-size built-up patches on the plain and in valleys
    plain_w = lambda x, y: 1.0 - ctx.mountainness(x, y)  # noqa: E731
    sx, sy = sample_points(rng, ctx.beijing, 110, weight=lambda x, y: plain_w(x, y) ** 2)
    sr = rng.uniform(700.0, 1500.0, sx.size)
    seats_unit = polar_blobs(rng, sx, sy, sr, spacing=110, roughness=0.3, elongation=0.6)

    # villages: many on the plain, most in Tongzhou and Daxing (where the wells are)
    tzdx = shapely.union_all(ctx.geoms([TONGZHOU, DAXING]))
    vx1, vy1 = sample_points(rng, tzdx, 1100)
    vx2, vy2 = sample_points(rng, ctx.beijing, 1400, weight=lambda x, y: plain_w(x, y) ** 2)
    vx, vy = np.concatenate([vx1, vx2]), np.concatenate([vy1, vy2])
    vr = np.clip(rng.lognormal(np.log(300.0), 0.35, vx.size), 120.0, 800.0)
    villages = polar_blobs(
        rng, vx, vy, vr, spacing=70, min_vertices=12, roughness=0.2, elongation=0.6
    )
    # green wedges and belts (绿化隔离地区): corridors kept free of building
    d_w = lambda x, y: np.exp(  # noqa: E731
        -(((np.hypot(x - ctx.centre[0], y - ctx.centre[1]) - 20_000.0) / 12_000.0) ** 2)
    )
    gx, gy = sample_points(rng, ctx.beijing, 34, weight=lambda x, y: plain_w(x, y) * d_w(x, y))
    n_g = 22
    wx, wy = random_walks(rng, gx, gy, n_steps=n_g - 1, step=700.0, turn_sigma=0.25)
    wr = rng.uniform(450, 1100, (gx.size, 1)) * rng.uniform(0.7, 1.3, (gx.size, n_g))
    wedge = polar_blobs(rng, wx.ravel(), wy.ravel(), wr.ravel(), spacing=130, roughness=0.3)
    land = shapely.difference(ctx.beijing, shapely.union_all(wedge))
    village_land = shapely.intersection(shapely.union_all(villages), land)
    n_t = tx.size
    cxs, cys = np.concatenate([tx, sx]), np.concatenate([ty, sy])
    blobs_unit = np.concatenate([towns_unit, seats_unit])
    # the share is tuned on a fixed cloud of points (standard error ~0.1 %), the
    # geometry is cut only once, at the end
    px, py = sample_points(rng, ctx.beijing, 200_000)
    on_land = shapely.contains_xy(land, px, py)
    in_village = shapely.contains_xy(village_land, px, py)

    lo, hi = 0.5, 3.0
    for _ in range(16):  # bisection on one common radius factor of towns and seats
        mid = 0.5 * (lo + hi)
        u = shapely.union_all(scale_about(blobs_unit, cxs, cys, mid))
        share = float(np.mean((shapely.contains_xy(u, px, py) & on_land) | in_village))
        if share < target_share:
            lo = mid
        else:
            hi = mid
        if abs(share - target_share) < 0.0005:
            break
    b = scale_about(blobs_unit, cxs, cys, mid)
    urban = shapely.intersection(shapely.union_all(b[:n_t]), land)
    seats = shapely.intersection(shapely.union_all(b[n_t:]), land)
    # villages inside a town are part of it: keep the ones outside
    keep = ~shapely.contains_xy(urban, vx, vy) & shapely.contains_xy(ctx.beijing, vx, vy)
    adcode = ctx.district_of(vx, vy)
    names = village_names(rng, vx.size)
    edge = ~shapely.contains(ctx.beijing, villages)  # only these need a cut
    vgeom = villages.copy()
    vgeom[edge] = shapely.intersection(villages[edge], ctx.beijing)
    vill = gpd.GeoDataFrame(
        {"name": names, "adcode": adcode, "x": vx, "y": vy, "radius": vr},
        geometry=vgeom,
        crs=METRIC_CRS,
    )[keep].reset_index(drop=True)
    all_built = shapely.union_all([urban, seats, village_land])
    return BuiltUp(urban=urban, villages=vill, all=all_built)


def _split_by_district(ctx: Context, geom: shapely.Geometry, *, min_area: float = 200.0):
    """Polygon parts of ``geom`` cut along district lines: (parts, adcodes)."""
    parts: list[NDArray[np.object_]] = []
    codes: list[NDArray[np.object_]] = []
    for code, g in zip(ctx.districts["adcode"], ctx.districts.geometry, strict=True):
        piece = shapely.intersection(geom, g)  # 16 overlay operations in all
        p = shapely.get_parts(piece)
        p = p[shapely.get_type_id(p) == 3]
        parts.append(p)
        codes.append(np.full(p.size, code, dtype=object))
    allp = np.concatenate(parts)
    allc = np.concatenate(codes)
    # slivers below min_area are artefacts of clipping generated shapes, not features
    big = shapely.area(allp) >= min_area
    return allp[big], allc[big]


def redline(
    ctx: Context,
    built: BuiltUp,
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    target_share: float = 0.259,
) -> gpd.GeoDataFrame:
    """Synthetic ecological protection red lines, ~``target_share`` of Beijing.

    Large rough patches, ridge-like chains and many small patches, mostly in the
    northern and western mountains, and river/wetland corridors on the plain; then
    medium patches are added until the share is reached. Cut along district lines;
    one feature per part.
    """
    weight = lambda x, y: ctx.mountainness(x, y)  # noqa: E731
    allowed = shapely.difference(ctx.beijing, shapely.buffer(built.all, 150.0))
    # large patches
    bx, by = sample_points(rng, ctx.mountain_area, 34, weight=weight)
    big = polar_blobs(
        rng, bx, by, rng.uniform(3000, 7500, bx.size), spacing=130, roughness=0.4, elongation=0.8
    )
    # ridge chains: blobs along random walks, unioned per chain
    n_chain, n_step = 80, 28
    wx, wy = sample_points(rng, ctx.mountain_area, n_chain, weight=weight)
    cx, cy = random_walks(rng, wx, wy, n_steps=n_step - 1, step=450.0, turn_sigma=0.3)
    cr = rng.uniform(300, 800, (n_chain, 1)) * rng.uniform(0.7, 1.3, (n_chain, n_step))
    chain = polar_blobs(rng, cx.ravel(), cy.ravel(), cr.ravel(), spacing=110, roughness=0.3)
    chain = shapely.union_all(chain.reshape(n_chain, n_step), axis=1)
    # plain corridors: river and wetland strips
    plain = shapely.difference(ctx.beijing, ctx.mountain_area)
    n_riv, r_step = 14, 45
    px, py = sample_points(rng, plain, n_riv)
    rx, ry = random_walks(rng, px, py, n_steps=r_step - 1, step=300.0, turn_sigma=0.18)
    rr = rng.uniform(90, 220, (n_riv, 1)) * rng.uniform(0.6, 1.4, (n_riv, r_step))
    river = polar_blobs(rng, rx.ravel(), ry.ravel(), rr.ravel(), spacing=80, roughness=0.25)
    river = shapely.union_all(river.reshape(n_riv, r_step), axis=1)
    # variable part: medium patches, taken as a prefix until the share is reached
    n_med = 700
    mx, my = sample_points(rng, ctx.mountain_area, n_med, weight=weight)
    med = polar_blobs(
        rng, mx, my, rng.uniform(500, 2000, n_med), spacing=100, roughness=0.35, elongation=0.8
    )
    n_small = round(1500 * scale)
    w_small = lambda x, y: 0.1 + 0.9 * weight(x, y)  # noqa: E731
    sx, sy = sample_points(rng, ctx.beijing, n_small, weight=w_small)
    # more but smaller patches at scale > 1 keep the total area (and share) in range
    s_r = np.exp(rng.uniform(np.log(40.0), np.log(400.0), n_small)) / np.sqrt(max(scale, 1.0))
    small = polar_blobs(
        rng, sx, sy, s_r, spacing=50, min_vertices=12, roughness=0.3, elongation=0.8
    )
    fixed = np.concatenate([big, chain, river, small])
    var = med

    target = target_share * ctx.beijing.area
    u_fixed = shapely.intersection(shapely.union_all(fixed), allowed)
    a_fixed = u_fixed.area
    csum = np.cumsum(shapely.area(var))

    def area_of(k: int) -> tuple[float, shapely.Geometry]:
        u = shapely.intersection(shapely.union_all(var[:k]), allowed)
        u = shapely.union(u_fixed, u)
        return u.area, u

    red = u_fixed
    if a_fixed < target:
        # secant on the prefix length: area grows ~ linearly with the summed blob area
        ratio, best = 0.8, np.inf
        for _ in range(6):
            k = min(int(np.searchsorted(csum, (target - a_fixed) / ratio)) + 1, var.size)
            a, u = area_of(k)
            if abs(a - target) < best:
                best, red = abs(a - target), u
            if abs(a - target) < 0.0008 * ctx.beijing.area or k == var.size:
                break
            ratio = max((a - a_fixed) / csum[k - 1], 0.05)
    parts, codes = _split_by_district(ctx, red, min_area=1000.0)
    n = parts.size
    names = {c: ctx.name(c) for c in ctx.districts["adcode"]}
    kinds = np.array(["水源涵养", "生物多样性维护", "水土保持"], dtype=object)
    kind_en = {
        "水源涵养": "water conservation",
        "生物多样性维护": "biodiversity maintenance",
        "水土保持": "soil and water conservation",
    }
    rtype = kinds[rng.choice(3, n, p=[0.45, 0.35, 0.2])]
    order = np.lexsort((-shapely.area(parts), codes))
    parts, codes, rtype = parts[order], codes[order], rtype[order]
    serial = _serial_within(codes)
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"redline-{i + 1:05d}" for i in range(n)],
            "name": [
                f"{names[c]}{t}生态保护红线{s:04d}"
                for c, t, s in zip(codes, rtype, serial, strict=True)
            ],
            "redline_type": rtype,
            "redline_type_en": [kind_en[t] for t in rtype],
            "adcode": codes,
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=parts,
        crs=METRIC_CRS,
    )


def _serial_within(codes: NDArray[np.object_]) -> NDArray[np.int64]:
    """1-based running number within each group of equal, already sorted codes."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return np.empty(0, dtype=np.int64)
    start = np.r_[True, codes[1:] != codes[:-1]]
    idx = np.arange(codes.size)
    first = np.maximum.accumulate(np.where(start, idx, 0))
    return idx - first + 1


def eco_control(ctx: Context, built: BuiltUp, red: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ecological control zone: Beijing outside built-up land, plus all red lines."""
    eco = shapely.difference(ctx.beijing, built.all)
    eco = shapely.union(eco, shapely.union_all(red.geometry.values))
    parts, codes = _split_by_district(ctx, eco, min_area=500.0)
    order = np.lexsort((-shapely.area(parts), codes))
    parts, codes = parts[order], codes[order]
    serial = _serial_within(codes)
    names = {c: ctx.name(c) for c in ctx.districts["adcode"]}
    n = parts.size
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"eco_control-{i + 1:05d}" for i in range(n)],
            "name": [f"{names[c]}生态控制区{s:03d}" for c, s in zip(codes, serial, strict=True)],
            "zone_type": np.full(n, "生态控制区", dtype=object),
            "zone_type_en": np.full(n, "ecological control zone", dtype=object),
            "adcode": codes,
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=parts,
        crs=METRIC_CRS,
    )


def wells(
    ctx: Context, built: BuiltUp, rng: np.random.Generator, *, scale: float = 1.0
) -> gpd.GeoDataFrame:
    """Rural drinking-water wells in the villages of Tongzhou and Daxing."""
    v = built.villages[built.villages["adcode"].isin([TONGZHOU, DAXING])].reset_index(drop=True)
    n = round(2000 * scale)
    # bigger villages have more wells; every village at least one when there are enough
    w = v["radius"].to_numpy() ** 2
    base = np.ones(len(v), dtype=np.int64) if n >= len(v) else np.zeros(len(v), dtype=np.int64)
    extra = rng.multinomial(n - base.sum(), w / w.sum())
    counts = base + extra
    owner = np.repeat(np.arange(len(v)), counts)
    ang = rng.uniform(0, 2 * np.pi, owner.size)
    dist = v["radius"].to_numpy()[owner] * np.sqrt(rng.uniform(0.0, 1.0, owner.size)) * 1.1
    x = v["x"].to_numpy()[owner] + dist * np.cos(ang)
    y = v["y"].to_numpy()[owner] + dist * np.sin(ang)
    # a point pushed over its district line or into town is pulled back to its village
    own = ctx.district_of(x, y) == v["adcode"].to_numpy()[owner]
    bad = ~own | shapely.contains_xy(built.urban, x, y)
    x[bad] = v["x"].to_numpy()[owner[bad]]
    y[bad] = v["y"].to_numpy()[owner[bad]]
    number = _serial_within(owner)
    multi = counts[owner] > 1
    vname = v["name"].to_numpy()[owner]
    names = np.where(
        multi,
        [f"{a}村水源井{k}号" for a, k in zip(vname, number, strict=True)],
        [f"{a}村水源井" for a in vname],
    )
    m = owner.size
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"well-{i + 1:05d}" for i in range(m)],
            "name": names,
            "village": [f"{a}村" for a in vname],
            "adcode": v["adcode"].to_numpy()[owner],
            "depth_m": np.round(rng.uniform(60, 320, m), 0),
            "supply_population": (rng.lognormal(np.log(600), 0.6, m)).round().astype(np.int64),
            "synthetic": np.ones(m, dtype=bool),
        },
        geometry=shapely.points(x, y),
        crs=METRIC_CRS,
    )


def water_source_zones(well_gdf: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Drinking-water source protection zones around some wells.

    Grade 1: circles of 30–100 m around about a third of the wells; grade 2: rings
    out to 300–1000 m around a third of those; quasi: a few rings out to 1.5–3 km.
    """
    m = len(well_gdf)
    x = shapely.get_x(well_gdf.geometry.values)
    y = shapely.get_y(well_gdf.geometry.values)
    g1 = np.flatnonzero(rng.uniform(0, 1, m) < 0.35)
    r1 = rng.uniform(30, 100, g1.size).round()
    g2_mask = rng.uniform(0, 1, g1.size) < 0.3
    g2 = g1[g2_mask]
    r2 = rng.uniform(300, 1000, g2.size).round(-1)
    n_q = max(1, round(6 * m / 2000))
    q_sel = rng.choice(g2.size, min(n_q, g2.size), replace=False)
    gq = g2[q_sel]
    r2q = r2[q_sel]
    rq = rng.uniform(1500, 3000, gq.size).round(-2)
    pts1 = shapely.points(x[g1], y[g1])
    c1 = shapely.buffer(pts1, r1, quad_segs=6)
    pts2 = shapely.points(x[g2], y[g2])
    ring2 = shapely.difference(shapely.buffer(pts2, r2, quad_segs=10), c1[g2_mask])
    ptsq = shapely.points(x[gq], y[gq])
    ringq = shapely.difference(
        shapely.buffer(ptsq, rq, quad_segs=16), shapely.buffer(ptsq, r2q, quad_segs=10)
    )
    wname = well_gdf["name"].to_numpy()
    wid = well_gdf["feature_id"].to_numpy()
    geoms = np.concatenate([c1, ring2, ringq])
    grade = np.array(["1"] * g1.size + ["2"] * g2.size + ["quasi"] * gq.size, dtype=object)
    label = {"1": "一级保护区", "2": "二级保护区", "quasi": "准保护区"}
    idx = np.concatenate([g1, g2, gq])
    outer = np.concatenate([r1, r2, rq])
    n = geoms.size
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"water_source_zone-{i + 1:05d}" for i in range(n)],
            "name": [f"{wname[i]}{label[g]}" for i, g in zip(idx, grade, strict=True)],
            "grade": grade,
            "well_id": wid[idx],
            "radius_m": outer,
            "adcode": well_gdf["adcode"].to_numpy()[idx],
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=geoms,
        crs=METRIC_CRS,
    )
