"""Synthetic parks, residential parcels, Tongzhou key area and pollution sources.

All geometry is generated in EPSG:4548 (metres); callers convert to EPSG:4326.
Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from _synth_context import CENTRAL, METRIC_CRS, TONGZHOU, Context
from _synth_nature import BuiltUp
from _synth_shapes import polar_blobs, rotate_xy, sample_points, sub_quads
from numpy.typing import NDArray

# Park service tiers of GB/T 50563-2010: (minimum park area m², service radius m).
SERVICE_TIERS = ((5000.0, 500.0), (2000.0, 300.0))

# Tongzhou key area: around the national/municipal air-quality station in the city
# sub-centre (approximate WGS84 location; the demo flags it synthetic).
STATION_LONLAT = (116.66, 39.91)
STATION_NAME = "通州国市控空气质量监测站（近似位置）"
STRICT_ZONE_NAMES = (
    "京榆旧线、陈列馆路、潞苑五街、潞苑西路围合区域",
    "通胡大街、紫运中路、玉带河大街、滨河中路围合区域",
)

_PARK_WORDS = (
    "翠湖 晨光 丰泽 和平 春晖 滨河 望京 金盏 雁栖 清河 朝阳 西山 玉泉 鹿鸣 芳草 "
    "绿荫 松林 榆树 槐荫 桃源 杏林 柳岸 荷塘 凤凰 龙潭 月季 丁香 海棠 银杏 枫林 "
    "运河 潞河 京畿 新华 永顺 梨园 宋庄 台湖 马驹 旧宫 太平 万泉 紫竹 双秀"
).split()
_HOME_WORDS = (
    "金台 幸福 阳光 和谐 锦绣 华清 世纪 富力 首开 盛世 康城 怡景 嘉和 润泽 "
    "东方 西城 北辰 南湖 紫荆 泰和 安贞 惠新 望湖 云景 瑞祥 天禧 龙湖 星河 "
    "御景 颐和 京华 长安 海淀 枫丹 碧水 青年 翠微 美景 融创 时代 远洋 万科"
).split()
_HOME_SUFFIX = "家园 花园 小区 嘉园 华庭 雅苑 北里 南里 西里 东里 新村 公寓".split()
_SOURCE_TYPES = (
    # type, English, share, industry codes (GB/T 4754)
    ("工业企业", "industrial enterprise", 0.22, ("C26", "C30", "C33", "C36", "C39", "C29")),
    ("施工工地", "construction site", 0.26, ()),
    ("餐饮", "restaurant", 0.22, ()),
    ("加油站", "filling station", 0.08, ()),
    ("汽修", "vehicle repair", 0.10, ()),
    ("印刷", "printing", 0.05, ("C23",)),
    ("锅炉房", "boiler house", 0.07, ()),
)
POLLUTANTS = ("PM10", "PM2.5", "NOx", "VOCs", "SO2")
# tonnes per month for a typical source of each type: PM10, PM2.5, NOx, VOCs, SO2
_BASE_EMISSIONS = {
    "工业企业": (0.40, 0.18, 0.60, 0.50, 0.15),
    "施工工地": (0.90, 0.25, 0.12, 0.05, 0.0),
    "餐饮": (0.03, 0.025, 0.01, 0.04, 0.0),
    "加油站": (0.0, 0.0, 0.0, 0.35, 0.0),
    "汽修": (0.01, 0.005, 0.0, 0.20, 0.0),
    "印刷": (0.01, 0.005, 0.0, 0.45, 0.0),
    "锅炉房": (0.05, 0.03, 0.45, 0.01, 0.03),
}
# month factors: construction stops around Spring Festival, boilers run in winter
_MONTHLY = {
    "施工工地": (0.3, 0.4, 1.0, 1.2, 1.2, 1.1, 1.0, 1.0, 1.1, 1.2, 1.1, 0.8),
    "锅炉房": (2.2, 2.0, 1.4, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.5, 1.6, 2.2),
}


def _names(rng: np.random.Generator, words: list[str], suffixes: list[str], n: int):
    w = np.array(words, dtype=object)[rng.integers(0, len(words), n)]
    s = np.array(suffixes, dtype=object)[rng.integers(0, len(suffixes), n)]
    return w + s


def _lattice(
    ctx: Context, area: shapely.Geometry, rng: np.random.Generator, *, spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Jittered, slightly rotated street lattice: super-block corners and centres.

    Super blocks are two lattice steps wide and one high (about 320 m × 160 m at
    scale 1), like Beijing's residential blocks between streets.
    """
    xmin, ymin, xmax, ymax = area.bounds
    pad = 2 * spacing
    xs = np.arange(xmin - pad, xmax + pad, 2 * spacing)
    ys = np.arange(ymin - pad, ymax + pad, spacing)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    gx = gx + rng.normal(0, 0.08 * spacing, gx.shape)
    gy = gy + rng.normal(0, 0.08 * spacing, gy.shape)
    gx, gy = rotate_xy(gx, gy, 0.03, *ctx.centre)
    corners = np.stack(
        [
            np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1),
            np.stack([gx[1:, :-1], gy[1:, :-1]], -1),
            np.stack([gx[1:, 1:], gy[1:, 1:]], -1),
            np.stack([gx[:-1, 1:], gy[:-1, 1:]], -1),
        ],
        axis=2,
    ).reshape(-1, 4, 2)
    centre = corners.mean(axis=1)
    inside = shapely.contains_xy(area, centre[:, 0], centre[:, 1])
    return corners[inside], centre[inside]


# parcel layouts of a super block: lists of (u0, u1, v0, v1) in the unit square
_LAYOUTS = (
    ((0.0, 1.0, 0.0, 1.0),),
    ((0.0, 0.5, 0.0, 1.0), (0.5, 1.0, 0.0, 1.0)),
    ((0.0, 0.5, 0.0, 1.0), (0.5, 1.0, 0.0, 0.5), (0.5, 1.0, 0.5, 1.0)),
    tuple((u, u + 0.5, v, v + 0.5) for u in (0.0, 0.5) for v in (0.0, 0.5)),
    tuple((u, u + 1 / 3, v, v + 0.5) for u in (0.0, 1 / 3, 2 / 3) for v in (0.0, 0.5)),
)
_LAYOUT_P = (0.12, 0.3, 0.2, 0.26, 0.12)


def _service_covered(parks: NDArray[np.object_], x, y) -> NDArray[np.bool_]:
    """Points within the GB/T 50563 service radius of a qualifying park."""
    area = shapely.area(parks)
    covered = np.zeros(np.size(x), dtype=bool)
    pts = shapely.points(x, y)
    upper = np.inf
    for min_area, radius in SERVICE_TIERS:
        tier = parks[(area >= min_area) & (area < upper)]
        upper = min_area
        if tier.size:
            hit = shapely.STRtree(tier).query(pts, predicate="dwithin", distance=radius)[0]
            covered[hit] = True
    return covered


def parks_and_residential(
    ctx: Context,
    built: BuiltUp,
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    target_coverage: float = 0.87,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Parks (log-normal sizes) and residential parcels on a street lattice.

    Parks and parcels take different super blocks, so they do not overlap. Parcels
    are drawn with a bias towards blocks within park service radius, tuned so that
    park service coverage lands near ``target_coverage`` (short of the 90 % target).
    """
    n_parks = round(1500 * scale)
    n_res = round(20000 * scale)
    spacing = 160.0 / np.sqrt(max(scale, 1.0))  # finer blocks when scaled up
    home = shapely.union_all(ctx.geoms([*CENTRAL, TONGZHOU]))
    res_area = shapely.intersection(built.urban, home)
    shapely.prepare(res_area)
    corners, centre = _lattice(ctx, res_area, rng, spacing=spacing)
    blocks = shapely.polygons(corners)
    cell_area = shapely.area(blocks)

    # park sizes: log-normal, the largest few replaced by forest/country parks of km²
    size = np.clip(rng.lognormal(np.log(8000.0), 2.0, n_parks), 200.0, 2.5e6)
    n_big = max(1, round(10 * scale))
    top = np.argsort(size)[-n_big:]
    size[top] = np.exp(rng.uniform(np.log(1.5e6), np.log(7e6), n_big))
    in_city = rng.uniform(0, 1, n_parks) < 0.85
    fits = size <= 0.7 * np.median(cell_area)

    # large parks in the city first: organic blobs; the blocks they touch are theirs
    free = np.ones(len(blocks), dtype=bool)
    order = rng.permutation(len(blocks))
    small_idx = np.flatnonzero(in_city & fits)
    large_idx = np.flatnonzero(in_city & ~fits)
    pick = order[: large_idx.size]
    lr = np.sqrt(size[large_idx] / np.pi)
    large_geom = polar_blobs(
        rng, centre[pick, 0], centre[pick, 1], lr, spacing=40, roughness=0.25, elongation=0.7
    )
    large_geom = shapely.intersection(large_geom, res_area)
    # a large park overlapping an earlier one moves to the suburbs
    a, b = shapely.STRtree(large_geom).query(large_geom, predicate="intersects")
    clash = np.zeros(large_idx.size, dtype=bool)
    clash[np.unique(np.maximum(a, b)[a != b])] = True
    in_city[large_idx[clash]] = False
    large_idx, large_geom = large_idx[~clash], large_geom[~clash]
    free[shapely.STRtree(blocks).query(large_geom, predicate="intersects")[1]] = False

    # small parks in the city: one free super block each, a sub-rectangle of it
    free_order = order[free[order]]
    cell_of_small = free_order[: small_idx.size]
    free[cell_of_small] = False
    frac = size[small_idx] / cell_area[cell_of_small]
    aspect = rng.uniform(0.5, 2.0, small_idx.size)
    w = np.clip(np.sqrt(frac * aspect), 0.02, 0.95)
    h = np.clip(frac / w, 0.02, 0.95)
    u0 = rng.uniform(0, 1, small_idx.size) * (1 - w)
    v0 = rng.uniform(0, 1, small_idx.size) * (1 - h)
    small_geom = sub_quads(corners[cell_of_small], u0, u0 + w, v0, v0 + h)

    # suburban parks: in the other new towns and township seats
    sub_idx = np.flatnonzero(~in_city)
    suburb = shapely.difference(built.urban, home)
    sx, sy = sample_points(rng, suburb, sub_idx.size)
    sub_geom = polar_blobs(
        rng,
        sx,
        sy,
        np.sqrt(size[sub_idx] / np.pi),
        spacing=30,
        roughness=0.15,
        min_vertices=8,
        elongation=0.6,
    )
    sub_geom = shapely.intersection(sub_geom, suburb)  # never into the residential city

    park_geom = np.empty(n_parks, dtype=object)
    park_geom[small_idx] = small_geom
    park_geom[large_idx] = large_geom
    park_geom[sub_idx] = sub_geom
    keep = ~shapely.is_empty(park_geom) & ~shapely.is_missing(park_geom)
    park_geom = park_geom[keep]
    park_area = shapely.area(park_geom)
    ptype = np.select(
        [park_area < 3000, park_area < 50_000, park_area < 1e6],
        ["口袋公园", "社区公园", "综合公园"],
        "郊野公园",
    ).astype(object)
    ptype_en = {
        "口袋公园": "pocket park",
        "社区公园": "community park",
        "综合公园": "city park",
        "郊野公园": "country park",
    }
    inner = shapely.point_on_surface(park_geom)
    px, py = shapely.get_x(inner), shapely.get_y(inner)
    m = park_geom.size
    parks = gpd.GeoDataFrame(
        {
            "feature_id": [f"park-{i + 1:05d}" for i in range(m)],
            "name": _names(rng, _PARK_WORDS, [""], m) + ptype,
            "park_type": ptype,
            "park_type_en": [ptype_en[t] for t in ptype],
            "adcode": ctx.district_of(px, py),
            "synthetic": np.ones(m, dtype=bool),
        },
        geometry=park_geom,
        crs=METRIC_CRS,
    )

    # residential parcels: every free block gets a layout, then blocks are chosen
    fb = np.flatnonzero(free)
    layout = rng.choice(len(_LAYOUTS), fb.size, p=_LAYOUT_P)
    n_per = np.array([len(_LAYOUTS[k]) for k in layout])
    owner = np.repeat(np.arange(fb.size), n_per)
    sub = np.concatenate([np.array(_LAYOUTS[k]) for k in layout])
    shrink = rng.uniform(0.78, 0.95, owner.size)
    parcels = sub_quads(
        corners[fb[owner]], sub[:, 0], sub[:, 1], sub[:, 2], sub[:, 3], shrink=shrink
    )
    # only parcels wholly inside the central districts and Tongzhou
    shapely.prepare(home)
    inside = shapely.contains(home, parcels)
    owner, parcels = owner[inside], parcels[inside]
    n_per = np.bincount(owner, minlength=fb.size)
    p_area = shapely.area(parcels)
    pc = shapely.centroid(parcels)
    cov = _service_covered(park_geom, shapely.get_x(pc), shapely.get_y(pc))
    blk_area = np.bincount(owner, weights=p_area, minlength=fb.size)
    blk_cov = np.bincount(owner, weights=p_area * cov, minlength=fb.size) / np.maximum(
        blk_area, 1.0
    )
    u = rng.uniform(1e-12, 1.0, fb.size)

    def choose(alpha: float) -> tuple[NDArray[np.int64], float]:
        # weighted sampling without replacement (Efraimidis–Spirakis keys)
        key = np.log(u) / (1.0 + (alpha - 1.0) * blk_cov)
        ranked = np.argsort(-key, kind="stable")
        cum = np.cumsum(n_per[ranked])
        k = int(np.searchsorted(cum, n_res)) + 1
        chosen = ranked[:k]
        sel = np.flatnonzero(np.isin(owner, chosen))
        # order parcels by their block's rank, then trim to exactly n_res
        rank = np.empty(fb.size, dtype=np.int64)
        rank[ranked] = np.arange(fb.size)
        sel = sel[np.argsort(rank[owner[sel]], kind="stable")][:n_res]
        return sel, float((p_area[sel] * cov[sel]).sum() / p_area[sel].sum())

    lo, hi = -6.0, 6.0  # bisection on log(alpha); alpha < 1 favours unserved blocks
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        sel, got = choose(float(np.exp(mid)))
        if abs(got - target_coverage) < 0.002:
            break
        if got < target_coverage:
            lo = mid
        else:
            hi = mid
    sel = np.sort(sel)
    geom = parcels[sel]
    cx, cy = shapely.get_x(pc[sel]), shapely.get_y(pc[sel])
    n = sel.size
    density = np.clip(rng.lognormal(np.log(350.0), 0.35, n), 100.0, 900.0)  # persons/ha
    suffix = np.where(rng.uniform(0, 1, n) < 0.3, rng.integers(1, 6, n).astype(str), "")
    names = _names(rng, _HOME_WORDS, _HOME_SUFFIX, n)
    names = np.array(
        [f"{a}{b}区" if b else a for a, b in zip(names, suffix, strict=True)], dtype=object
    )
    residential = gpd.GeoDataFrame(
        {
            "feature_id": [f"residential-{i + 1:06d}" for i in range(n)],
            "name": names,
            "population": np.round(p_area[sel] / 1e4 * density).astype(np.int64),
            "adcode": ctx.district_of(cx, cy),
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=geom,
        crs=METRIC_CRS,
    )
    return parks, residential


def tongzhou_zones(
    ctx: Context, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Tongzhou key area (~1.5 km across, block-bounded) and its two strict zones."""
    sx, sy = ctx.xy(*STATION_LONLAT)
    # street lines at irregular block spacing around the station
    xs = np.cumsum(rng.uniform(170, 280, 10))
    ys = np.cumsum(rng.uniform(160, 260, 10))
    xs = xs - xs[4] - rng.uniform(60, 160)
    ys = ys - ys[4] - rng.uniform(60, 160)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    gx = gx + rng.normal(0, 12, gx.shape)
    gy = gy + rng.normal(0, 12, gy.shape)
    angle = -0.12  # the sub-centre's street grid runs slightly off north
    gx, gy = rotate_xy(gx + sx, gy + sy, angle, sx, sy)
    corners = np.stack(
        [
            np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1),
            np.stack([gx[1:, :-1], gy[1:, :-1]], -1),
            np.stack([gx[1:, 1:], gy[1:, 1:]], -1),
            np.stack([gx[:-1, 1:], gy[:-1, 1:]], -1),
        ],
        axis=2,
    )  # (9, 9, 4, 2) city blocks
    blocks = shapely.polygons(corners.reshape(-1, 4, 2))
    bc = corners.mean(axis=2).reshape(-1, 2)
    dist = np.hypot(bc[:, 0] - sx, bc[:, 1] - sy)
    key_geom = shapely.union_all(blocks[dist < 730.0])
    key_geom = shapely.make_valid(shapely.simplify(key_geom, 1.0))
    key = gpd.GeoDataFrame(
        {
            "feature_id": ["tongzhou_key_area-001"],
            "name": ["通州区重点区域（国市控空气质量监测站周边约1.5公里）"],
            "station_name": [STATION_NAME],
            "station_lon": [STATION_LONLAT[0]],
            "station_lat": [STATION_LONLAT[1]],
            "adcode": [TONGZHOU],
            "synthetic": [True],
        },
        geometry=[key_geom],
        crs=METRIC_CRS,
    )
    # strict zones: two road-bounded quadrilaterals (corners at street crossings),
    # 2 × 1 blocks north-west and 1 × 2 blocks south-east of the station
    quads = []
    for i0, i1, j0, j1 in ((2, 4, 5, 6), (5, 6, 2, 4)):
        q = np.array(
            [
                [gx[i0, j0], gy[i0, j0]],
                [gx[i1, j0], gy[i1, j0]],
                [gx[i1, j1], gy[i1, j1]],
                [gx[i0, j1], gy[i0, j1]],
            ]
        )
        quads.append(shapely.intersection(shapely.Polygon(q), key_geom))
    strict = gpd.GeoDataFrame(
        {
            "feature_id": ["tongzhou_strict_zone-001", "tongzhou_strict_zone-002"],
            "name": list(STRICT_ZONE_NAMES),
            "adcode": [TONGZHOU, TONGZHOU],
            "synthetic": [True, True],
        },
        geometry=quads,
        crs=METRIC_CRS,
    )
    return key, strict


def _emissions(rng: np.random.Generator, stype: str, size: float) -> str:
    base = np.array(_BASE_EMISSIONS[stype]) * size
    monthly = np.array(_MONTHLY.get(stype, (1.0,) * 12))
    noise = rng.lognormal(0.0, 0.15, (12, len(POLLUTANTS)))
    t = np.round(monthly[:, None] * base[None, :] * noise, 4)
    emitted = [k for k in range(len(POLLUTANTS)) if base[k] > 0]  # no rows of zeros
    return json.dumps(
        [
            {"month": f"2025-{mo + 1:02d}", "pollutant": POLLUTANTS[k], "tonnes": float(t[mo, k])}
            for mo in range(12)
            for k in emitted
        ],
        ensure_ascii=False,
    )


def pollution_sources(
    ctx: Context,
    built: BuiltUp,
    key: gpd.GeoDataFrame,
    strict: gpd.GeoDataFrame,
    rng: np.random.Generator,
    *,
    n: int = 300,
) -> gpd.GeoDataFrame:
    """Pollution-source ledger points in Tongzhou with 2025 monthly emissions."""
    tz = ctx.geom(TONGZHOU)
    n_strict, n_key = 24, 46
    x1, y1 = sample_points(rng, shapely.union_all(strict.geometry.values), n_strict)
    key_only = shapely.difference(key.geometry.iloc[0], shapely.union_all(strict.geometry.values))
    x2, y2 = sample_points(rng, key_only, n_key)
    town = shapely.intersection(built.urban, tz)
    n_rest = n - n_strict - n_key
    n_town = round(0.7 * n_rest)
    x3, y3 = sample_points(rng, town, n_town)
    x4, y4 = sample_points(
        rng, shapely.difference(shapely.intersection(built.all, tz), town), n_rest - n_town
    )
    x = np.concatenate([x1, x2, x3, x4])
    y = np.concatenate([y1, y2, y3, y4])
    types = np.array([t[0] for t in _SOURCE_TYPES], dtype=object)
    p = np.array([t[2] for t in _SOURCE_TYPES])
    ti = rng.choice(len(types), n, p=p / p.sum())
    stype = types[ti]
    en = np.array([t[1] for t in _SOURCE_TYPES], dtype=object)[ti]
    codes = [_SOURCE_TYPES[i][3] for i in ti]
    industry = np.array([c[rng.integers(0, len(c))] if c else "" for c in codes], dtype=object)
    size = rng.lognormal(0.0, 0.7, n)
    emissions = [_emissions(rng, s, f) for s, f in zip(stype, size, strict=True)]
    serial = np.zeros(n, dtype=np.int64)
    for i in range(len(types)):  # 7 types: a running number within each type
        m = ti == i
        serial[m] = np.arange(1, m.sum() + 1)
    zone = np.array(["严控区"] * n_strict + ["重点区域"] * n_key + [""] * (n - n_strict - n_key))
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"pollution_source-{i + 1:04d}" for i in range(n)],
            "name": [f"通州区{t}{k:03d}（演示）" for t, k in zip(stype, serial, strict=True)],
            "source_type": stype,
            "source_type_en": en,
            "industry_code": industry,
            "key_area_zone": zone,
            "emissions": emissions,
            "adcode": np.full(n, TONGZHOU, dtype=object),
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=shapely.points(x, y),
        crs=METRIC_CRS,
    )
