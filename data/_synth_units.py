"""Synthetic environmental control units (环境管控单元) with access lists.

A Voronoi tessellation of seed points, cut by each district, tiles Beijing without
gaps or overlaps. Each unit gets a category from what lies in it (red line →
priority protection; urban land → key control; else general) and a code in the
form of the real ones: ``ZH`` + district adcode + category digit + serial
(``ZH11011210001``). Used only by ``data/build_dataset.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _synth_context import Context
from _synth_nature import BuiltUp
from _synth_shapes import sample_points

CATEGORY_DIGIT = {"priority": "1", "key": "2", "general": "3"}
CATEGORY_ZH = {"priority": "优先保护单元", "key": "重点管控单元", "general": "一般管控单元"}

# Access-list entries (生态环境准入清单) by category, in the form lists are published:
# one row per entry with 管控维度, 管控要求 and (sometimes) 效力 and 行业代码; the effect
# and conditions are otherwise read from the text (zoning.access_list.parse_entry_text).
# Wording modelled on published Beijing lists; demonstration only. ``always``: every
# unit of the category carries it; the others are kept with probability 0.75.
_ENTRIES: dict[str, list[dict[str, object]]] = {
    "priority": [
        {
            "dimension": "空间布局约束",
            "text": (
                "生态保护红线内，自然保护地核心保护区原则上禁止人为活动，"
                "其他区域严格禁止开发性、生产性建设活动，"
                "仅允许对生态功能不造成破坏的有限人为活动。"
            ),
            "text_en": (
                "Inside the red line: no human activity in nature-reserve cores; "
                "elsewhere no development or production construction, only limited "
                "activities that do not harm ecological functions."
            ),
            "always": True,
        },
        {
            "dimension": "空间布局约束",
            "text": "禁止新建、扩建工业项目和房地产开发项目。",
            "text_en": "No new or expanded industrial or real-estate projects.",
            "always": True,
        },
        {
            "dimension": "空间布局约束",
            "text": "线性基础设施确需穿越的，应科学论证，采取无害化方式并落实生态补偿。",
            "text_en": (
                "Linear infrastructure that must cross needs a demonstration, a "
                "harmless crossing method and ecological compensation."
            ),
            "always": True,
        },
        {
            "dimension": "污染物排放管控",
            "text": "不得新增废水等污染物排放，现有排污口依法清理整治。",
            "text_en": (
                "No new discharge of wastewater or other pollutants; existing outfalls "
                "are cleared up according to law."
            ),
        },
        {
            "dimension": "环境风险防控",
            "text": "严禁在饮用水水源保护区、河湖管理范围内堆放、倾倒固体废物和危险废物。",
            "text_en": (
                "No storage or dumping of solid or hazardous waste in source protection"
                " zones or river and lake management areas."
            ),
            "always": True,
        },
        {
            "dimension": "资源开发效率要求",
            "effect": "要求",
            "text": "线性工程和施工工地严格控制临时用地，施工结束后及时恢复植被。",
            "text_en": (
                "Linear works and construction sites keep temporary land use to a "
                "minimum; vegetation is restored right after works."
            ),
        },
    ],
    "key": [
        {
            "dimension": "空间布局约束",
            "text": "执行《北京市新增产业的禁止和限制目录》，禁止新建、扩建石化、化工项目。",
            "text_en": (
                "Apply Beijing's catalogue of prohibited and restricted new industries;"
                " no new or expanded petrochemical or chemical projects."
            ),
            "always": True,
        },
        {
            "dimension": "空间布局约束",
            "text": "禁止新建、扩建水泥、平板玻璃、陶瓷等非金属矿物制品项目。",
            "text_en": (
                "No new or expanded cement, flat-glass, ceramics or other non-metallic "
                "mineral products projects."
            ),
            "always": True,
        },
        {
            "dimension": "污染物排放管控",
            "text": (
                "涉挥发性有机物排放的项目实行区域内现役源2倍削减量替代，使用低VOCs含量原辅材料。"
            ),
            "text_en": (
                "Projects emitting VOCs offset twice their emissions within the area "
                "and use low-VOC materials."
            ),
            "always": True,
        },
        {
            "dimension": "污染物排放管控",
            "text": "新增氮氧化物排放的项目实施区域削减替代。",
            "text_en": "Projects adding NOx emissions offset them within the area.",
        },
        {
            "dimension": "污染物排放管控",
            "text": "涉重金属排放的项目实行重金属排放等量或减量替代。",
            "text_en": "Projects emitting heavy metals offset them one-for-one or better.",
        },
        {
            "dimension": "污染物排放管控",
            "text": "工业废水须经预处理达到《水污染物综合排放标准》(DB11/307)后排入市政管网。",
            "text_en": (
                "Industrial wastewater is pre-treated to DB11/307 before entering the "
                "municipal sewer."
            ),
        },
        {
            "dimension": "污染物排放管控",
            "text": "施工工地落实“六个百分之百”扬尘控制措施，渣土车辆密闭运输。",
            "text_en": (
                "Construction sites apply the 'six 100 %' dust controls; muck trucks are closed."
            ),
        },
        {
            "dimension": "环境风险防控",
            "text": "涉及危险化学品的企业应编制突发环境事件应急预案并备案。",
            "text_en": (
                "Enterprises handling hazardous chemicals file an emergency response "
                "plan for environmental incidents."
            ),
            "industry": "C26、C27",
            "always": True,
        },
        {
            "dimension": "资源开发效率要求",
            "text": "新建民用建筑执行绿色建筑二星级及以上标准。",
            "text_en": "New civil buildings meet the two-star green building standard or higher.",
        },
        {
            "dimension": "资源开发效率要求",
            "text": "新建工业项目单位产品能耗、水耗达到国内先进水平。",
            "text_en": (
                "New industrial projects reach advanced national levels of energy and "
                "water use per unit of product."
            ),
            "always": True,
        },
    ],
    "general": [
        {
            "dimension": "空间布局约束",
            "text": "落实生态环境保护基本要求，项目建设应符合国土空间规划。",
            "text_en": (
                "Meet the basic environmental requirements; projects conform to the "
                "territorial spatial plan."
            ),
            "always": True,
        },
        {
            "dimension": "空间布局约束",
            "text": "禁止新建、扩建水泥、平板玻璃等非金属矿物制品项目。",
            "text_en": (
                "No new or expanded cement, flat-glass or other non-metallic mineral "
                "products projects."
            ),
            "always": True,
        },
        {
            "dimension": "污染物排放管控",
            "effect": "要求",
            "text": "农村生活污水应收集处理，禁止直排河道。",
            "text_en": (
                "Rural sewage is collected and treated, never discharged straight into rivers."
            ),
        },
        {
            "dimension": "污染物排放管控",
            "text": "规模化畜禽养殖场应配套粪污处理设施，实现资源化利用。",
            "text_en": (
                "Large livestock farms have manure treatment facilities and reuse the manure."
            ),
        },
        {
            "dimension": "环境风险防控",
            "text": "加强土壤和地下水污染风险管控，防止污染地块再开发利用风险。",
            "text_en": (
                "Control soil and groundwater pollution risks, in particular when "
                "contaminated land is redeveloped."
            ),
            "always": True,
        },
        {
            "dimension": "资源开发效率要求",
            "effect": "要求",
            "text": "严格控制地下水开采，农业灌溉推广高效节水技术。",
            "text_en": (
                "Groundwater extraction is strictly limited; irrigation uses efficient "
                "water-saving techniques."
            ),
        },
    ],
}

#: Columns of the published access-list table (data/access_list_demo.csv).
TABLE_COLUMNS = ["环境管控单元编码", "管控维度", "管控要求", "效力", "行业代码", "管控要求(英文)"]


def access_list_table(
    unit_code: np.ndarray, category: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """The demo access list as published: one row per (unit, entry), in unit order.

    Every "always" entry of the unit's category, and each other entry with
    probability 0.75.
    """
    rows = []
    for code, cat in zip(unit_code, category, strict=True):
        entries = _ENTRIES[str(cat)]
        keep = rng.uniform(0, 1, len(entries)) < 0.75
        for e, k in zip(entries, keep, strict=True):
            if e.get("always") or k:
                rows.append(
                    [code, e["dimension"], e["text"], e.get("effect", ""), e.get("industry", ""),
                     e["text_en"]]
                )  # fmt: skip
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def join_table(units: gpd.GeoDataFrame, table: pd.DataFrame) -> gpd.GeoDataFrame:
    """``units`` with ``access_list`` built from the published table, as an import does.

    The table goes through a CSV file and :func:`zoning.access_list.read_access_list`
    / :func:`~zoning.access_list.join_access_list`, the path `ecozone layers
    import-access-list` takes; every row must join.
    """
    from zoning.access_list import join_access_list, read_access_list

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access_list.csv"
        table.to_csv(path, index=False, encoding="utf-8")
        imported = read_access_list(path)
    out, errors = join_access_list(units, imported)
    if errors:
        raise ValueError(f"demo access list rows not joined: {errors[:3]}")
    return out


def control_units(
    ctx: Context,
    built: BuiltUp,
    red: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Control units tiling Beijing: Voronoi cells of seeds, cut by each district.

    Seeds per district: a few plus one per ~80 km² of land and one per ~25 km² of
    urban land, half of them in the built-up part (units are smaller in towns).
    Category: priority where red lines cover ≥ 40 % of the unit, key where urban
    land covers ≥ 35 %, general elsewhere.
    """
    red_u = shapely.union_all(red.geometry.values)
    shapely.prepare(red_u)
    geoms: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    metric: list[np.ndarray] = []
    for code, dist, dist_ll in zip(
        ctx.districts["adcode"], ctx.districts.geometry, ctx.districts_ll.geometry, strict=True
    ):
        urban_d = shapely.intersection(built.urban, dist)
        n = round(3 + dist.area / 80e6 + urban_d.area / 25e6)
        n_urban = n // 2 if urban_d.area > 5e6 else 0
        ux, uy = sample_points(rng, urban_d, n_urban) if n_urban else (np.empty(0), np.empty(0))
        dx, dy = sample_points(rng, dist, n - n_urban)
        pts = shapely.multipoints(np.column_stack([np.r_[ux, dx], np.r_[uy, dy]]))
        cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=dist.buffer(1000.0)))
        # cut in lon/lat against the district exactly as stored: neighbouring units
        # of two districts then share the district line vertex for vertex (a cut in
        # metres would bend slightly on the way back and leave m² slivers)
        cells_ll = ctx.to_lonlat(cells)
        cut = shapely.intersection(cells_ll, dist_ll)
        keep = ~shapely.is_empty(cut)
        geoms.append(cut[keep])
        metric.append(shapely.intersection(cells[keep], dist))
        codes.append(np.full(int(keep.sum()), code, dtype=object))
    geom = np.concatenate(geoms)
    adcode = np.concatenate(codes)
    # keep only polygonal parts (cutting can leave stray lines or points)
    parts, idx = shapely.get_parts(geom, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    out = np.empty(geom.size, dtype=object)
    shapely.multipolygons(parts[poly], indices=idx[poly], out=out)
    ok = ~shapely.is_missing(out)
    geom, adcode = out[ok], adcode[ok]
    # shares measured on the metric twins of the units
    geom_m = np.concatenate(metric)[ok]
    area = np.maximum(shapely.area(geom_m), 1.0)
    red_share = shapely.area(shapely.intersection(geom_m, red_u)) / area
    urban_share = shapely.area(shapely.intersection(geom_m, built.urban)) / area
    category = np.where(
        red_share >= 0.4, "priority", np.where(urban_share >= 0.35, "key", "general")
    ).astype(object)
    order = np.lexsort((-area, category, adcode))
    geom, adcode, category = geom[order], adcode[order], category[order]
    red_share, urban_share = red_share[order], urban_share[order]
    key_ = adcode + category
    start = np.r_[True, key_[1:] != key_[:-1]]
    idx = np.arange(key_.size)
    serial = idx - np.maximum.accumulate(np.where(start, idx, 0)) + 1
    unit_code = [
        f"ZH{a}{CATEGORY_DIGIT[c]}{s:04d}" for a, c, s in zip(adcode, category, serial, strict=True)
    ]
    names = {c: ctx.name(c) for c in ctx.districts["adcode"]}
    n = geom.size
    units = gpd.GeoDataFrame(
        {
            "feature_id": [f"control_unit-{u}" for u in unit_code],
            "name": [
                f"{names[a]}{CATEGORY_ZH[c]}{s:02d}"
                for a, c, s in zip(adcode, category, serial, strict=True)
            ],
            "unit_code": unit_code,
            "category": category,
            "category_zh": [CATEGORY_ZH[c] for c in category],
            "access_list": "",
            "adcode": adcode,
            "redline_share": np.round(red_share, 4),
            "urban_share": np.round(urban_share, 4),
            "synthetic": np.ones(n, dtype=bool),
        },
        geometry=geom,
        crs="EPSG:4326",
    )
    table = access_list_table(np.asarray(unit_code, dtype=object), category, rng)
    return join_table(units, table)
