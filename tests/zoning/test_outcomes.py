"""The verdict, outcome and section labels have one home (zoning/outcomes.py), used everywhere."""

from __future__ import annotations

import typing

from zoning.check.findings import OUTCOME_ORDER
from zoning.outcomes import (
    OUTCOME_LABELS,
    OUTCOMES_ZH,
    SECTION_LABELS,
    SECTIONS_ZH,
    VERDICT_LABELS,
    VERDICTS_ZH,
)
from zoning.pack_rules import Outcome, Section


def test_every_outcome_and_section_has_its_words_in_both_languages():
    assert set(OUTCOME_LABELS) == set(OUTCOME_ORDER)  # the engine's outcomes
    assert set(typing.get_args(Outcome)) <= set(OUTCOME_LABELS)  # a rule's
    assert list(SECTION_LABELS) == list(typing.get_args(Section))  # in the table's order
    for zh, en in (*OUTCOME_LABELS.values(), *SECTION_LABELS.values()):
        assert zh and en.isascii()
        assert "(" not in zh and ")" not in zh  # full-width brackets in Chinese text
    assert OUTCOMES_ZH["restricted"] == "限制（需论证）"
    assert SECTIONS_ZH == {k: zh for k, (zh, _) in SECTION_LABELS.items()}


def test_reports_records_exception_notes_and_legends_print_the_same_words():
    from maps.style import OUTCOME_LABELS as LEGEND
    from zoning.exceptions import exception_notes
    from zoning.report.text import OUTCOMES, SECTIONS

    assert OUTCOMES is OUTCOME_LABELS and SECTIONS is SECTION_LABELS
    for key, (zh, en) in OUTCOME_LABELS.items():
        assert LEGEND[key] == (zh, en[0].upper() + en[1:])
    finding = {"rule_id": "r", "title": "某规则", "title_en": "a rule",
               "exceptions": [{"id": "e", "title": "例外", "title_en": "exception",
                               "outcome_from": "prohibited", "outcome": "restricted"}]}  # fmt: skip
    (note,) = exception_notes([finding])
    assert "禁止改为限制（需论证）" in note["text"]


def test_every_interface_prints_a_verdict_in_the_same_words():
    from maps.style import VERDICT_STYLES
    from zoning.check.result import _VERDICT_OF_SEVERITY, VERDICT_ZH, VERDICTS
    from zoning.report.text import VERDICTS as REPORT_VERDICTS

    # most severe first, as the engine ranks them
    assert VERDICTS == tuple(VERDICT_LABELS) == tuple(reversed(_VERDICT_OF_SEVERITY))
    for zh, en in VERDICT_LABELS.values():
        assert zh and en.isascii() and "(" not in zh and ")" not in zh
    assert VERDICT_ZH == VERDICTS_ZH == {k: zh for k, (zh, _) in VERDICT_LABELS.items()}
    assert REPORT_VERDICTS is VERDICT_LABELS
    assert list(VERDICT_STYLES) == list(VERDICT_LABELS)
    for key, (zh, en) in VERDICT_LABELS.items():
        style = VERDICT_STYLES[key]
        assert (style.label_zh, style.label_en) == (zh, en[0].upper() + en[1:])
    assert VERDICTS_ZH["compliant"] == "符合" and VERDICTS_ZH["prohibited"] == "不符合（禁止类）"
