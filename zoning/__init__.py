"""zoning: rule packs, the 三线一单 site check, reports and coverage metrics.

The public API of the engine package; each name lives in its own module:

- rule packs: :func:`load_pack`, :func:`list_packs`, :class:`Pack`; projects: :class:`Project`
- access lists: :func:`read_access_list`, :func:`import_access_list`, :func:`judge_entry`
- the site check: :func:`check_sites`, :class:`SiteChecker`, :class:`CheckResult`,
  :func:`run_batch`, :func:`make_checker`
- reports: :func:`build_report`, :func:`write_reports`; cited sources: :func:`format_citation`,
  :func:`get_source`
- coverage against plan targets: :func:`measure_targets`, :class:`MetricResult`,
  :func:`park_service_coverage`, :func:`uncovered_residential`, :func:`pocket_park_sites`
- plan tasks: :func:`redline_clues`, :func:`key_area_ledger`, :func:`demarcation_stakes`
"""

from typing import TYPE_CHECKING

from geo.lazy import lazy_exports

if TYPE_CHECKING:  # the names below, imported on first use (geo/lazy.py)
    from zoning.access_list import import_access_list, judge_entry, read_access_list
    from zoning.check.batch import BatchSummary, run_batch
    from zoning.check.engine import SiteChecker, check_sites
    from zoning.check.result import CheckResult
    from zoning.coverage.gaps import pocket_park_sites, uncovered_residential
    from zoning.coverage.measure import MetricResult, measure_targets, park_service_coverage
    from zoning.pack import Pack, list_packs, load_pack
    from zoning.project import Project
    from zoning.report.build import build_report, write_reports
    from zoning.sources import format_citation, get_source
    from zoning.tasks.clues import redline_clues
    from zoning.tasks.ledger import key_area_ledger
    from zoning.tasks.stakes import demarcation_stakes
    from zoning.workflow import make_checker

_EXPORTS = {
    "import_access_list": "zoning.access_list",
    "judge_entry": "zoning.access_list",
    "read_access_list": "zoning.access_list",
    "BatchSummary": "zoning.check.batch",
    "run_batch": "zoning.check.batch",
    "SiteChecker": "zoning.check.engine",
    "check_sites": "zoning.check.engine",
    "redline_clues": "zoning.tasks.clues",
    "MetricResult": "zoning.coverage.measure",
    "measure_targets": "zoning.coverage.measure",
    "park_service_coverage": "zoning.coverage.measure",
    "pocket_park_sites": "zoning.coverage.gaps",
    "uncovered_residential": "zoning.coverage.gaps",
    "key_area_ledger": "zoning.tasks.ledger",
    "Pack": "zoning.pack",
    "list_packs": "zoning.pack",
    "load_pack": "zoning.pack",
    "Project": "zoning.project",
    "build_report": "zoning.report.build",
    "write_reports": "zoning.report.build",
    "CheckResult": "zoning.check.result",
    "format_citation": "zoning.sources",
    "get_source": "zoning.sources",
    "demarcation_stakes": "zoning.tasks.stakes",
    "make_checker": "zoning.workflow",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BatchSummary",
    "CheckResult",
    "MetricResult",
    "Pack",
    "Project",
    "SiteChecker",
    "build_report",
    "check_sites",
    "demarcation_stakes",
    "format_citation",
    "get_source",
    "import_access_list",
    "judge_entry",
    "key_area_ledger",
    "list_packs",
    "load_pack",
    "make_checker",
    "measure_targets",
    "park_service_coverage",
    "pocket_park_sites",
    "read_access_list",
    "redline_clues",
    "run_batch",
    "uncovered_residential",
    "write_reports",
]
