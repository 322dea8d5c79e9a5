"""The words of the compliance report in each language (``zh`` / ``en``).

One language per document: every label a renderer prints comes from :data:`LABELS`
through :func:`label`; data strings (rule titles, requirements, access-list entries)
come in both languages from the pack and the layers. Used by ``zoning.report.build`` (HTML,
PDF) and ``zoning.report.docx`` (DOCX).
"""

from __future__ import annotations

from typing import Any

from zoning.outcomes import OUTCOME_LABELS, SECTION_LABELS, VERDICT_LABELS

LANGS = ("zh", "en")

#: Section of the 三线一单 table and a finding's outcome: code → (zh, en).
SECTIONS: dict[str, tuple[str, str]] = SECTION_LABELS
OUTCOMES: dict[str, tuple[str, str]] = OUTCOME_LABELS

VERDICTS: dict[str, tuple[str, str]] = VERDICT_LABELS

#: Conclusion of one row of the 三线一单 table, most severe first.
CONCLUSIONS: dict[str, tuple[str, str]] = {
    "noncompliant": ("不符合", "not compliant"),
    "needs_demonstration": ("需论证", "needs demonstration"),
    "insufficient_data": ("数据不足（无法判定）", "insufficient data"),
    "needs_review": ("需人工核实", "needs manual review"),
    "requirements": ("符合（须落实管控要求）", "compliant, requirements apply"),
    "compliant": ("符合", "compliant"),
}
#: Finding outcome → row conclusion (information findings decide nothing).
OUTCOME_CONCLUSION = {
    "prohibited": "noncompliant",
    "restricted": "needs_demonstration",
    "insufficient_data": "insufficient_data",
    "needs_review": "needs_review",
    "requirements": "requirements",
}

RELATIONS: dict[str, tuple[str, str]] = {
    "inside": ("位于其内", "inside"),
    "overlaps": ("部分重叠", "overlaps"),
    "within_distance": ("在距离范围内", "within the rule distance"),
    "outside": ("位于其外", "outside"),
}

DIMENSIONS_EN = {
    "layout": "spatial layout constraints",
    "discharge": "pollutant discharge control",
    "risk": "environmental risk prevention",
    "efficiency": "resource efficiency",
}
EFFECTS_EN = {"prohibit": "prohibition", "restrict": "restriction", "require": "requirement"}
JUDGEMENTS: dict[str, tuple[str, str]] = {
    "complies": ("符合", "complies"),
    "violates": ("不符合", "violates"),
    "needs_demonstration": ("需论证", "needs demonstration"),
    "not_applicable": ("不适用", "not applicable"),
    "needs_review": ("需人工核实", "needs manual review"),
}
CATEGORIES: dict[str, tuple[str, str]] = {
    "priority": ("优先保护单元", "priority-protection unit"),
    "key": ("重点管控单元", "key-control unit"),
    "general": ("一般管控单元", "general-control unit"),
}
NOTE_KINDS: dict[str, tuple[str, str]] = {
    "jurisdiction": ("管辖范围", "jurisdiction"),
    "missing_data": ("数据缺失", "missing data"),
    "demo_data": ("演示数据", "demonstration data"),
    "assumption": ("假定与来源", "assumption"),
    "repair": ("几何修复", "geometry repair"),
    "exception": ("例外情形", "exception"),
    "coords": ("坐标", "coordinates"),
    "input": ("输入", "input"),
}

#: Labels of the documents: key → (zh, en).
LABELS: dict[str, tuple[str, str]] = {
    "title": ("建设项目三线一单符合性分析", "“Three lines, one list” compliance analysis"),
    "h_project": ("项目概况", "Project"),
    "h_map": ("场址位置", "Site location"),
    "h_sanxian": ("三线一单符合性分析", "“Three lines, one list” compliance analysis"),
    "h_findings": ("管控要求与依据", "Requirements and sources"),
    "h_relations": ("空间关系", "Spatial relations"),
    "h_screening": ("周边敏感目标筛查", "Screening: features around the site"),
    "col_radius": ("筛查半径", "Radius"),
    "col_direction": ("方位", "Direction"),
    "h_notes": ("提示与说明", "Notes"),
    "h_app_sources": ("附录A 引用来源", "Appendix A. Sources cited"),
    "h_app_stamp": ("附录B 可复核信息", "Appendix B. Reproducibility"),
    "project_name": ("项目名称", "Project name"),
    "project_type": ("项目类型", "Project type"),
    "industry_code": ("行业代码", "Industry code"),
    "development": ("建设性质", "Development"),
    "flags": ("产排污特征", "Discharges"),
    "verdict": ("结论", "Verdict"),
    "deciding": ("决定性规则", "Deciding rules"),
    "site": ("场址", "Site"),
    "centre": ("中心坐标", "Centre"),
    "area": ("面积", "Area"),
    "length": ("长度", "Length"),
    "crs_lonlat": ("WGS84/CGCS2000 经纬度", "WGS84/CGCS2000 lon/lat"),
    "col_section": ("类别", "Category"),
    "col_requirement": ("管控要求", "Requirement"),
    "col_situation": ("项目情况", "Project situation"),
    "col_analysis": ("符合性分析", "Analysis"),
    "col_conclusion": ("结论", "Conclusion"),
    "col_source": ("依据", "Source"),
    "col_layer": ("图层", "Layer"),
    "col_feature": ("要素", "Feature"),
    "col_relation": ("关系", "Relation"),
    "col_distance": ("距离（m）", "Distance (m)"),
    "col_overlap": ("重叠面积（m²）", "Overlap (m²)"),
    "col_title": ("名称", "Title"),
    "col_issuer": ("发布机关", "Issued by"),
    "col_number": ("文号", "Number"),
    "col_date": ("日期", "Date"),
    "col_where": ("引用位置", "Cited at"),
    "col_item": ("项目", "Item"),
    "col_value": ("内容", "Value"),
    "col_kind": ("类型", "Kind"),
    "col_note": ("说明", "Note"),
    "none_fired": ("本场址未触发任何管控规则。", "No rule applies to this site."),
    "not_involved": (
        "场址未涉及本类管控要求的图层要素",
        "the site touches no feature this column controls",
    ),
    "no_rule": ("—", "—"),
    "no_notes": ("无。", "None."),
    "requirement": ("管控要求", "Requirement"),
    "source": ("依据", "Source"),
    "entries": ("准入清单条目", "Access-list entries"),
    "units": ("环境管控单元", "Control units"),
    "exceptions": ("例外情形", "Exceptions"),
    "features": ("涉及要素", "Features"),
    "distance": ("距离", "distance"),
    "overlap": ("重叠", "overlap"),
    "of_site": ("占场址", "of the site"),
    "inside_length": ("区内长度", "length inside"),
    "of_line": ("占线路全长", "of the line"),
    "tool": ("工具版本", "Tool version"),
    "pack": ("规则包", "Rule pack"),
    "layer": ("图层", "Layer"),
    "input_checksum": ("输入校验和（SHA-256）", "Input checksum (SHA-256)"),
    "measurement": ("量算方法", "Measurement"),
    "measurement_unknown": (
        "未记录（早于 ecozone 0.1.0 的结果：距离可能为高斯-克吕格平面距离）",
        "not recorded (a result from before ecozone 0.1.0: distances may be Gauss-Krüger "
        "plane distances)",
    ),
    "measurement_ellipsoidal/1": (
        "空间关系按经纬度判断；距离为 CGCS2000（GRS80）椭球面距离：在场址所在 3° 高斯-克吕格"
        "投影带内求最短连线，按投影长度比改正，最近要素按平面距离选取；面积为 CGCS2000 "
        "椭球上的等积投影面积（ellipsoidal/1）",
        "Topology in longitude/latitude; distances on the CGCS2000 (GRS80) ellipsoid: the "
        "shortest line found in the site's 3° Gauss-Krüger zone, corrected by the zone's "
        "scale factor, the nearest feature chosen by its plane distance; areas in an "
        "equal-area projection on the CGCS2000 ellipsoid (ellipsoidal/1)",
    ),
    "measurement_ellipsoidal/2": (
        "空间关系按经纬度判断；距离为 CGCS2000（GRS80）椭球面距离：在场址所在 3° 高斯-克吕格"
        "投影带内求最短连线，按投影长度比改正，最近要素按椭球面距离选取；面积为 CGCS2000 "
        "椭球上的等积投影面积（ellipsoidal/2）",
        "Topology in longitude/latitude; distances on the CGCS2000 (GRS80) ellipsoid: the "
        "shortest line found in the site's 3° Gauss-Krüger zone, corrected by the zone's "
        "scale factor, the nearest feature chosen by its distance on the ellipsoid; areas in "
        "an equal-area projection on the CGCS2000 ellipsoid (ellipsoidal/2)",
    ),
    "checked_at": ("检查时间", "Checked at"),
    "generated_at": ("生成时间", "Generated at"),
    "version": ("版本", "version"),
    "checksum": ("校验和", "checksum"),
    "synthetic": ("合成数据", "synthetic"),
    "line": ("第{line}行", "line {line}"),
    "file": ("文件", "file"),
    "source_text": ("原文", "text"),
    "from_input": ("取自输入文件字段“{column}”", "from the input file's field “{column}”"),
    "from_option": ("取自命令行选项 {option}", "from the option {option}"),
    "attr_sources": ("项目属性来源", "Project attributes"),
    "dev_new": ("新建", "new"),
    "dev_expansion": ("改扩建", "expansion"),
    "unspecified": ("未指定", "not given"),
    "skipped": ("以下规则因缺少图层未检查：{rules}", "rules not checked (layer missing): {rules}"),
    "sep": ("；", "; "),
    "colon": ("：", ": "),
}

PROJECT_TYPES_EN = {
    "construction": "construction site / building project",
    "residential": "residential project",
    "industrial": "industrial project",
    "linear": "linear works (roads, pipelines)",
    "agriculture": "agriculture / livestock",
    "other": "other",
}
FLAGS_EN = {
    "wastewater": "wastewater",
    "vocs": "VOCs",
    "sewage": "sewage",
    "garbage": "garbage",
    "toilets": "toilets",
    "manure": "livestock manure",
}


def check_lang(lang: str) -> str:
    """``lang`` when it is "zh" or "en"; else ValueError naming ``--lang``."""
    if lang not in LANGS:
        msg = f"--lang must be 'zh' or 'en' (got {lang!r})"
        raise ValueError(msg)
    return lang


def label(key: str, lang: str, **fields: Any) -> str:
    """The label ``key`` in ``lang`` (fields filled in with ``str.format``)."""
    zh, en = LABELS[key]
    text = zh if lang == "zh" else en
    return text.format(**fields) if fields else text


def pick(pair: tuple[str, str] | None, lang: str, default: str = "") -> str:
    """The ``lang`` member of a (zh, en) pair."""
    if not pair:
        return default
    return pair[0] if lang == "zh" else pair[1]
