"""The words of a site's verdict, a rule's outcome and a 三线一单 section (zh, en).

One home for the labels every interface prints: the engine's records and batch rows,
the reports, the spreadsheets, the exception notes and the map legends. The English is
lower-case, as a sentence uses it; a legend capitalises it. This module imports nothing,
so any module can use it.
"""

from __future__ import annotations

__all__ = [
    "OUTCOMES_ZH",
    "OUTCOME_LABELS",
    "SECTIONS_ZH",
    "SECTION_LABELS",
    "VERDICTS_ZH",
    "VERDICT_LABELS",
]

#: A site's verdict, most severe first (as in EIA compliance tables): code → (zh, en).
#: What each means: docs/rules.md "Verdict levels".
VERDICT_LABELS: dict[str, tuple[str, str]] = {
    "prohibited": ("不符合（禁止类）", "not compliant (prohibited)"),
    "restricted": ("需论证", "needs demonstration (restricted)"),
    "insufficient_data": ("数据不足（无法判定）", "insufficient data (cannot be judged)"),
    "needs_review": ("需人工核实", "needs manual review"),
    "requirements": ("符合（须落实管控要求）", "compliant, requirements apply"),
    "compliant": ("符合", "compliant"),
}

#: A finding's outcome, most informative first: code → (zh, en).
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "prohibited": ("禁止", "prohibited"),
    "restricted": ("限制（需论证）", "restricted: needs demonstration"),
    "insufficient_data": ("数据不足", "insufficient data"),
    "needs_review": ("需人工核实", "needs manual review"),
    "requirements": ("须落实管控要求", "requirements apply"),
    "information": ("信息", "information"),
}

#: The 三线一单 sections, in the order of the system's table: code → (zh, en).
SECTION_LABELS: dict[str, tuple[str, str]] = {
    "redline": ("生态保护红线", "Ecological protection red line"),
    "quality_floor": ("环境质量底线", "Environmental quality bottom line"),
    "resource_cap": ("资源利用上线", "Resource-use ceiling"),
    "access_list": ("生态环境准入清单", "Ecological-environment access list"),
}

#: The Chinese labels alone.
VERDICTS_ZH: dict[str, str] = {k: zh for k, (zh, _) in VERDICT_LABELS.items()}
OUTCOMES_ZH: dict[str, str] = {k: zh for k, (zh, _) in OUTCOME_LABELS.items()}
SECTIONS_ZH: dict[str, str] = {k: zh for k, (zh, _) in SECTION_LABELS.items()}
