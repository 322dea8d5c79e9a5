"""zoning: rule packs, the 三线一单 site check, reports and coverage metrics.

The public API of the engine package; each name lives in its own module:

- rule packs: :func:`load_pack`, :func:`list_packs`, :class:`Pack`; projects: :class:`Project`
- the site check: :func:`check_sites`, :class:`SiteChecker`, :class:`CheckResult`,
  :func:`run_batch`, :func:`make_checker`
- reports: :func:`build_report`, :func:`write_reports`
- coverage against plan targets: :func:`measure_targets`, :class:`MetricResult`,
  :func:`park_service_coverage`, :func:`uncovered_residential`, :func:`pocket_park_sites`
- plan tasks: :func:`redline_clues`, :func:`key_area_ledger`, :func:`demarcation_stakes`
"""

from zoning.batch import BatchSummary, run_batch
from zoning.check import SiteChecker, check_sites
from zoning.clues import redline_clues
from zoning.coverage import MetricResult, measure_targets, park_service_coverage
from zoning.gaps import pocket_park_sites, uncovered_residential
from zoning.ledger import key_area_ledger
from zoning.pack import Pack, list_packs, load_pack
from zoning.project import Project
from zoning.report import build_report, write_reports
from zoning.result import CheckResult
from zoning.stakes import demarcation_stakes
from zoning.workflow import make_checker

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
    "key_area_ledger",
    "list_packs",
    "load_pack",
    "make_checker",
    "measure_targets",
    "park_service_coverage",
    "pocket_park_sites",
    "redline_clues",
    "run_batch",
    "uncovered_residential",
    "write_reports",
]
