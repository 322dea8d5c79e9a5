"""Notes for the rule exceptions a check applied (JSON ``notes`` of kind "exception").

A rule of a pack may declare exceptions (:class:`zoning.pack.RuleException`): when
the project meets their conditions — typically a limited human activity it declares
(``Project.activity``, CLI ``--activity``) — the rule's outcome changes (e.g. the red
line's 禁止 becomes 限制（需论证）). The engine records the applied exception on the
finding (``exceptions``); :func:`exception_notes` states it in the site's notes, with
its citation, so every report says why the outcome is not the rule's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zoning.outcomes import OUTCOMES_ZH

__all__ = ["exception_notes"]


def exception_notes(findings: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One note of kind "exception" per exception applied in ``findings``.

    Parameters
    ----------
    findings
        The site's findings as dicts (``CheckResult.site_to_dict``), each with an
        ``exceptions`` list (possibly empty or missing).

    Returns
    -------
    list of dict
        ``{"kind": "exception", "text", "text_en"}``, in finding order, one per
        (rule, exception).
    """
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for f in findings:
        for ex in f.get("exceptions") or ():
            key = (str(ex.get("rule_id")), str(ex.get("id")))
            if key in seen:
                continue
            seen.add(key)
            cites = "；".join(str(c) for c in ex.get("citations") or ())
            was, now = str(ex.get("outcome_from")), str(ex.get("outcome"))
            out.append(
                {
                    "kind": "exception",
                    "text": (
                        f"规则 {key[0]} 适用例外“{ex.get('title')}”：结论由"
                        f"{OUTCOMES_ZH.get(was, was)}改为{OUTCOMES_ZH.get(now, now)}。"
                        f"{ex.get('requirement')}（依据：{cites}）"
                    ),
                    "text_en": (
                        f"rule {key[0]}: exception '{ex.get('title_en')}' applies: outcome "
                        f"{was} becomes {now}. {ex.get('requirement_en')} (source: {cites})"
                    ),
                }
            )
    return out
