"""zoning.tasks: plan tasks: red-line clues, the key-area ledger, demarcation stakes.

The public names of the modules below, imported on first use
(``from zoning.tasks import X`` keeps working after the modules moved here).
"""

from geo.lazy import lazy_exports

_EXPORTS = {
    "CLUE_SUMMARY_ZH": "zoning.tasks.clues",
    "LedgerResult": "zoning.tasks.ledger",
    "STAKE_TABLE_COLUMNS": "zoning.tasks.stakes",
    "demarcation_stakes": "zoning.tasks.stakes",
    "key_area_ledger": "zoning.tasks.ledger",
    "ledger_zone_labels": "zoning.tasks.ledger",
    "redline_clues": "zoning.tasks.clues",
    "stakes_table": "zoning.tasks.stakes",
    "write_ledger": "zoning.tasks.ledger",
    "write_stakes": "zoning.tasks.stakes",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
