"""Interface strings of the web pages in Chinese (default) and English.

Pages pick the language from ``?lang=zh|en``, then the ``ecozone_lang`` cookie set
by the language toggle, then ``zh``. The page scripts receive the strings they need
as a JSON data block (:func:`js_strings`), so nothing is translated in JavaScript.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LANGS", "STRINGS", "js_strings", "pick_lang", "t"]

LANGS = ("zh", "en")
COOKIE = "ecozone_lang"

#: key → (Chinese, English)
STRINGS: dict[str, tuple[str, str]] = {
    "app_title": (
        "生态环境分区管控（三线一单）",
        "Ecological-environment zoning control (三线一单)",
    ),
    "nav_check": ("场址检查", "Site check"),
    "nav_coverage": ("指标测算", "Coverage"),
    "nav_layers": ("图层管理", "Layers"),
    "nav_api": ("接口文档", "API"),
    "lang_toggle": ("English", "中文"),
    "demo_note": (
        "演示数据，非官方：专题图层为合成数据，仅供演示。",
        "Demonstration data, not official: the thematic layers are synthetic.",
    ),
    "pack": ("规则包（辖区）", "Rule pack (jurisdiction)"),
    "tab_single": ("单个场址", "Single site"),
    "tab_batch": ("批量检查", "Batch"),
    "site_input": ("场址输入", "Site"),
    "mode_draw": ("在地图上绘制", "Draw on the map"),
    "mode_upload": ("上传文件", "Upload a file"),
    "mode_paste": ("粘贴坐标", "Paste coordinates"),
    "draw_hint": (
        "用地图左上角的工具绘制点、线或面（底图坐标为 WGS84/CGCS2000）。",
        "Draw a point, line or polygon with the tools at the top left (map in WGS84/CGCS2000).",
    ),
    "upload_hint": (
        "GeoJSON、压缩的 Shapefile (.zip)、KML/KMZ、CSV/XLSX、DXF、界址点表；最大 {mb} MB。",
        "GeoJSON, zipped shapefile, KML/KMZ, CSV/XLSX, DXF, boundary-point table; up to {mb} MB.",
    ),
    "paste_hint": (
        "例：116.40,39.91；多个点用分号或换行分隔；首尾相同为面；也可粘贴 WKT 或 GeoJSON。",
        "E.g. 116.40,39.91; separate points with ';' or new lines; repeat the first to close a "
        "polygon; WKT or GeoJSON also work.",
    ),
    "coords": ("输入坐标系（上传/粘贴）", "Coordinate system (upload/paste)"),
    "coords_wgs84": ("WGS84 经纬度", "WGS84 lon/lat"),
    "coords_cgcs2000": ("CGCS2000 经纬度", "CGCS2000 lon/lat"),
    "coords_gcj02": ("GCJ-02（高德、腾讯）", "GCJ-02 (AMap, Tencent)"),
    "coords_bd09": ("BD-09（百度）", "BD-09 (Baidu)"),
    "coords_gk": ("CGCS2000 高斯-克吕格 3° 带", "CGCS2000 Gauss-Krüger 3° zone"),
    "gk_zone": ("带号", "Zone"),
    "project": ("项目属性", "Project attributes"),
    "project_name": ("项目名称", "Project name"),
    "project_type": ("项目类型", "Project type"),
    "type_unknown": ("（未指定）", "(not given)"),
    "industry_code": ("国民经济行业代码（GB/T 4754）", "Industry code (GB/T 4754)"),
    "flags": ("项目活动", "Activities"),
    "development": ("建设性质", "Development"),
    "dev_new": ("新建", "New"),
    "dev_expansion": ("改扩建", "Expansion"),
    "temporary_land_use": ("临时用地", "Temporary land use"),
    "water_supply": ("供水设施", "Water-supply facility"),
    "activity": (
        "有限人为活动（自然资发〔2022〕142号）",
        "Limited human activity (2022 red-line notice)",
    ),
    "activity_none": ("（不属于）", "(none)"),
    "length_inside": ("区内长度", "length inside"),
    "exits": (
        "工地出口坐标（经度,纬度；多个用分号分隔）",
        "Site exits (lon,lat; separated by ';')",
    ),
    "run_check": ("检查", "Check"),
    "checking": ("正在检查…", "Checking…"),
    "verdict": ("结论", "Verdict"),
    "findings": ("管控要求与依据", "Findings and sources"),
    "citation": ("依据", "Source"),
    "sanxian": ("三线一单符合性分析", "Three lines, one list"),
    "distances": ("与各图层的空间关系", "Spatial relations to the layers"),
    "category": ("类别", "Category"),
    "analysis": ("分析内容", "Analysis"),
    "conclusion": ("结论", "Conclusion"),
    "feature": ("要素", "Feature"),
    "relation": ("关系", "Relation"),
    "distance": ("距离", "Distance"),
    "download": ("下载报告", "Download the report"),
    "no_findings": ("本场址未触发任何管控规则。", "No rule applies to this site."),
    "notes": ("提示", "Notes"),
    "batch_hint": (
        "上传包含多个场址的 CSV/XLSX（经纬度列或 WKT 列，可含项目属性列）或其他支持的格式。",
        "Upload a CSV/XLSX of sites (lon/lat or WKT columns, optional project columns) or "
        "another accepted format.",
    ),
    "batch_format": ("结果格式", "Results format"),
    "run_batch": ("批量检查", "Run the batch"),
    "batch_summary": ("批量结果", "Batch results"),
    "batch_errors": ("无法检查的行", "Rows that could not be checked"),
    "download_results": ("下载结果文件", "Download the results"),
    "row": ("行", "Row"),
    "stage": ("阶段", "Stage"),
    "reason": ("原因", "Reason"),
    "reading_file": ("正在读取文件…", "Reading the file…"),
    "choose_file_hint": (
        "请先选择文件；如提示缺少坐标系，选择坐标系（如高斯-克吕格 39 带）后会自动重新读取。",
        "Choose a file first; if it lacks a coordinate system, pick one (e.g. Gauss-Krüger "
        "zone 39) and the file is read again.",
    ),
    "large_site_confirm": (
        "场址面积约 {km2} 平方千米，超过 {limit} 平方千米：可能是在较小比例尺下误绘。仍要检查吗？",
        "The site covers about {km2} km², more than {limit} km²: perhaps drawn by mistake at "
        "a small scale. Check it anyway?",
    ),
    "batch_map": (
        "批量结果地图（单击场址查看结论和触发规则）",
        "Batch results map (click a site for its findings)",
    ),
    "map_truncated": (
        "地图只显示前 {n} 个场址，全部结果见下载文件。",
        "The map shows the first {n} sites; the download has them all.",
    ),
    "deciding_rules": ("决定性规则", "Deciding rules"),
    "fired_rules": ("触发规则", "Rules that applied"),
    "site_id": ("场址编号", "Site id"),
    "screening_radii": ("周边筛查半径（米，逗号分隔）", "Screening radii (m, comma-separated)"),
    "screening": ("周边敏感目标筛查", "Screening: features around the site"),
    "radius": ("半径", "Radius"),
    "direction": ("方位", "Direction"),
    "total": ("总数", "Total"),
    "checked": ("已检查", "Checked"),
    "errors": ("错误", "Errors"),
    "coverage_title": ("规划指标测算", "Plan targets and coverage"),
    "show": ("显示", "Show"),
    "metric": ("指标", "Metric"),
    "value": ("现状值", "Value"),
    "target": ("目标", "Target"),
    "met": ("是否达标", "Met"),
    "gap": ("差距", "Gap"),
    "yes": ("达标", "met"),
    "no": ("未达标", "not met"),
    "not_measured": ("未测算", "not measured"),
    "scope": ("范围", "Scope"),
    "nature": ("目标性质", "Nature"),
    "area_km2": ("面积（km²）", "Area (km²)"),
    "contribution": ("贡献（不单独考核）", "contribution (not judged)"),
    "no_data": ("无数据", "no data"),
    "no_target": ("未给目标值（仅测算）", "no target given (measured only)"),
    "coverage_legend": (
        "目标只在规划设定的范围内评估；分区数值是对该目标的贡献，不单独考核。“力争（预期性）”目标"
        "未达到时记为“未达到力争目标”；部分区无数据时合计值标为“部分数据，未判定”。",
        "A target is judged only for the area its plan sets it for; district figures are "
        "contributions, not judged on their own. Aspirations (力争) that are not reached read "
        '"aspiration not reached"; totals built from part of the districts are "partial data, '
        'not judged".',
    ),
    "by_district": ("分区结果", "By district"),
    "district": ("区", "District"),
    "coverage_map": ("覆盖情况图", "Coverage map"),
    "computing": ("正在计算…", "Computing…"),
    "layers_title": ("图层与版本", "Layers and versions"),
    "layer": ("图层", "Layer"),
    "kind": ("类型", "Kind"),
    "version": ("版本", "Version"),
    "rows": ("要素数", "Features"),
    "source": ("来源", "Source"),
    "source_date": ("来源日期", "Source date"),
    "created_at": ("导入时间", "Imported"),
    "synthetic": ("演示数据", "Synthetic"),
    "checksum": ("校验和", "Checksum"),
    "history": ("版本历史", "History"),
    "audit": ("导入记录", "Import audit log"),
    "who": ("操作者", "Who"),
    "when": ("时间", "When"),
    "what": ("内容", "What"),
    "outcome": ("结果", "Outcome"),
    "import_title": ("导入新版本（需授权）", "Import a new version (authorised users)"),
    "layer_name": ("图层名称", "Layer name"),
    "file": ("文件", "File"),
    "token": ("API 令牌", "API token"),
    "import": ("导入", "Import"),
    "imports_disabled": (
        "服务器未配置 API 令牌（ECOZONE_API_TOKEN），导入已停用。",
        "No API token is configured on the server (ECOZONE_API_TOKEN): imports are disabled.",
    ),
    "api_title": ("REST 接口", "REST API"),
    "api_spec": ("OpenAPI 描述（JSON）", "OpenAPI description (JSON)"),
    "error": ("错误", "Error"),
    "note_asks": ("（在上方表单填写：{fields}）", " (in the form above: {fields})"),
    "note_asks_columns": (
        "（在文件中加列 {columns}；中文列名亦可：行业代码，或每项特征一列，如“排放废水”填“是”）",
        " (add the file's columns {columns}; or one column per flag, e.g. wastewater = true)",
    ),
    "pdf_missing": ("服务器没有 PDF 引擎", "no PDF engine on the server"),
}


def t(key: str, lang: str, **fields: Any) -> str:
    """Return the string ``key`` in ``lang`` ("zh" or "en"), with ``{fields}`` filled in."""
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**fields) if fields else text


def pick_lang(query: str | None, cookie: str | None) -> str:
    """The page language: ``?lang=``, else the cookie, else "zh"."""
    for value in (query, cookie):
        if value in LANGS:
            return value
    return "zh"


def js_strings(lang: str) -> dict[str, str]:
    """Every string in ``lang``, for the page scripts."""
    return {
        k: t(k, lang) if "{" not in v[0] else (v[1] if lang == "en" else v[0])
        for k, v in STRINGS.items()
    }
