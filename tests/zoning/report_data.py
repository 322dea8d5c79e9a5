"""A small rule pack with real citations, for the report tests (library and CLI).

Its rules cite the seed plans by line and the national texts by article, like the
built-in packs, but only need the hand-made layers of ``tests/zoning/conftest.py``
(the built-in packs change as their rules grow). It has no 资源利用上线 rule, so that
column must read "not assessed", never 符合.
"""

from __future__ import annotations

PACK_TOML = """
name = "reporttest"
version = "1"
title = "报告测试规则包"
title_en = "report test pack"

[jurisdiction]
name = "北京市"
name_en = "Beijing"
adcodes = ["110000"]

[[rules]]
id = "redline.inside"
layer = "redline"
predicate = "intersects"
outcome = "prohibited"
section = "redline"
report_overlap = true
title = "位于生态保护红线内"
title_en = "Site inside the ecological protection red line"
requirement = "生态保护红线内禁止开发性、生产性建设活动。"
requirement_en = "No development or production construction inside the red line."
[[rules.citations]]
source = "001_1c6d450321da7557.txt"
line = "370"
text = "嚴守生態保護紅線……確保生態功能不降低、面積不減少、性質不改變"
[[rules.citations]]
source = "关于加强生态保护红线管理的通知(试行)(自然资发〔2022〕142号)"
law = "Notice on strengthening red-line management (trial), MNR/MEE/NFGA 2022 No. 142"
article = "一、加强人为活动管控 (一)"
text = "生态保护红线内自然保护地核心保护区外，禁止开发性、生产性建设活动"

[[rules]]
id = "redline.nearest"
layer = "redline"
predicate = "nearest"
outcome = "information"
section = "redline"
title = "与最近生态保护红线的距离"
title_en = "Distance to the nearest red line"
requirement = "报告场地与最近生态保护红线的距离。"
requirement_en = "Report the distance to the nearest red line."
[[rules.citations]]
source = "001_1c6d450321da7557.txt"
line = "370"
text = "嚴守生態保護紅線"

[[rules]]
id = "well.30m"
layer = "well"
predicate = "within_distance"
distance_m = 30.0
outcome = "prohibited"
section = "quality_floor"
title = "饮用水水源井周边30米范围内"
title_en = "Within 30 m of a drinking-water well"
requirement = "水源井周边30米范围内无污水、无垃圾、无厕所、无养殖粪污。"
requirement_en = "No sewage, garbage, toilets or manure within 30 m of a well."
[rules.when]
flags_any = ["sewage", "garbage", "toilets", "manure"]
[[rules.citations]]
source = "002_735b581d06638fbb.txt"
line = "264"
text = "确保水源井周边30米范围内无污水、无垃圾、无厕所、无养殖粪污等污染源"

[[rules]]
id = "ws.grade2"
layer = "water_source_zone"
predicate = "intersects"
outcome = "restricted"
section = "quality_floor"
feature_filter = { grade = ["2"] }
title = "位于饮用水水源二级保护区内"
title_en = "Inside a grade-2 drinking-water source protection zone"
requirement = "禁止新建、改建、扩建排放污染物的建设项目。"
requirement_en = "No new projects discharging pollutants."
[[rules.citations]]
source = "中华人民共和国水污染防治法"
law = "Water Pollution Prevention Law of the PRC (2017)"
article = "第六十六条 (art. 66)"
text = "禁止在饮用水水源二级保护区内新建、改建、扩建排放污染物的建设项目"

[[rules]]
id = "unit.access"
layer = "control_unit"
predicate = "intersects"
outcome = "requirements"
section = "access_list"
access_list = true
title = "所在环境管控单元的准入要求"
title_en = "Access list of the control unit"
requirement = "落实所在环境管控单元的生态环境准入清单。"
requirement_en = "Apply the access list of the control unit."
[[rules.citations]]
source = "001_1c6d450321da7557.txt"
line = "366"
text = "落實生態環境分區管控要求,建立生態環境準入清單體系,實施差異化的環境準入"
"""


def report_pack():
    """The pack as a :class:`zoning.pack.Pack`."""
    import tomllib

    from zoning.pack import Pack

    return Pack.model_validate(tomllib.loads(PACK_TOML))
