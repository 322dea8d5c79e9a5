"""The use cases, once: shared by the command line, the web app, QGIS and the demo.

- :func:`write_site_report` — **check → report → map**: the report of one checked site,
  its site map drawn from the checker's layers, written in the requested formats
  (``ecozone check --report``, the QGIS site report, ``ecozone demo``);
- :func:`jurisdiction_map` — **jurisdiction → layers → gaps → map**: a pack's
  jurisdiction (:func:`zoning.workflow.jurisdiction_area`), the layers inside it, the
  residential land outside park service areas and, optionally, checked sites: what
  every map output draws (``ecozone map``, ``ecozone demo``);
- the gaps step on its own is :func:`zoning.workflow.residential_gaps` (also the web
  coverage map and ``ecozone gaps`` through :func:`zoning.workflow.coverage_gaps`).

Callers parse their input, call one of these, and format what comes back; the domain
work (zoning, maps) happens here or below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "JurisdictionMap",
    "SiteReport",
    "jurisdiction_map",
    "write_site_report",
]


@dataclass
class SiteReport:
    """One site's report as written by :func:`write_site_report`.

    Attributes
    ----------
    site_id
        The reported site.
    report
        The report dict (:func:`zoning.report.build.build_report`).
    map_png
        The site map drawn into it.
    files
        Format → written path.
    """

    site_id: Any
    report: dict[str, Any]
    map_png: bytes
    files: dict[str, Path] = field(default_factory=dict)


def write_site_report(
    checker: Any,
    result: Any,
    outdir: str | Path,
    *,
    site_id: Any = None,
    project: Any = None,
    lang: str | None = None,
    map_lang: str | None = None,
    map_page: str = "a4",
    formats: Iterable[str] = ("json", "html", "docx", "pdf"),
    **report_options: Any,
) -> SiteReport:
    """Check → report → map: write the report of one site of a check result.

    Parameters
    ----------
    checker
        The :class:`zoning.check.engine.SiteChecker` that produced ``result`` (its layers
        draw the site map).
    result
        A :class:`zoning.check.result.CheckResult` with at least one checked site.
    outdir
        Folder of the report files.
    site_id
        The site to report; default the first checked site.
    project
        The project the site was checked for (:class:`zoning.project.Project`).
    lang
        Report language ("zh", "en"); default Chinese.
    map_lang
        Language of the site map; default ``lang``.
    map_page
        Page size of the site map ("a4", "a3").
    formats
        Report formats (:func:`zoning.report.build.write_reports`).
    **report_options
        More options of :func:`zoning.report.build.build_report` (``pack``, ``notes``,
        ``attribute_sources``, ``title``).

    Returns
    -------
    SiteReport

    Raises
    ------
    ValueError
        If ``result`` holds no checked site, or not ``site_id``.
    """
    from maps.sitemap import site_map_png
    from zoning.report.build import build_report, write_reports
    from zoning.workflow import checker_layer_frames

    sites = result.sites
    if len(sites) == 0:
        msg = "the check result holds no checked site to report"
        raise ValueError(msg)
    if site_id is None:
        site_id = sites["site_id"].iloc[0]
    rows = sites[sites["site_id"].astype(str) == str(site_id)]
    if len(rows) == 0:
        msg = f"site {site_id!r} is not a checked site of the result"
        raise ValueError(msg)
    report = build_report(
        result, site_id=site_id, project=project, lang=lang or "zh", **report_options
    )
    png = site_map_png(
        rows.iloc[[0]], checker_layer_frames(checker), lang=map_lang or lang or "zh", page=map_page
    )
    files = write_reports(
        report, outdir, formats=formats, map_png=png, lang=lang, map_page=map_page
    )
    return SiteReport(site_id, report, png, files)


@dataclass
class JurisdictionMap:
    """What a map of a jurisdiction draws (:func:`jurisdiction_map`).

    Attributes
    ----------
    pack
        The rule pack.
    area
        The jurisdiction, one lon/lat geometry.
    layers
        Kind → features inside the jurisdiction.
    gaps
        Residential land outside park service areas (``None``: not asked).
    checked
        The check result of the sites drawn (``None``: no sites).
    """

    pack: Any
    area: Any
    layers: dict[str, Any]
    gaps: Any = None
    checked: Any = None

    @property
    def sites(self) -> Any:
        """The checked sites (or ``None``)."""
        return None if self.checked is None else self.checked.sites

    @property
    def findings(self) -> Any:
        """The findings of the checked sites (or ``None``)."""
        return None if self.checked is None else self.checked.findings


def jurisdiction_map(
    pack: Any,
    store: Any,
    *,
    kinds: list[str] | None = None,
    gaps: bool = False,
    sites: Any = None,
    project: Any = None,
    checked: Any = None,
    clip: bool = True,
) -> JurisdictionMap:
    """Jurisdiction → layers → gaps → map: everything a map of a pack's area draws.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack` or its name.
    store
        The layer store.
    kinds
        The layer kinds to draw; default the pack's kinds and the boundary.
    gaps
        Compute residential land outside park service areas.
    sites
        Sites to check and draw (a GeoDataFrame, e.g. :func:`geo.io.read_vector`).
    project
        The project the sites are checked for.
    checked
        An existing check result to draw instead of checking ``sites``.
    clip
        Cut the layers at the jurisdiction boundary (display only).

    Returns
    -------
    JurisdictionMap

    Raises
    ------
    MissingLayerError
        No boundary of the jurisdiction, or (with ``gaps``) no park/residential layer.
    """
    from zoning.pack import Pack, load_pack
    from zoning.workflow import (
        jurisdiction_area,
        layers_in_jurisdiction,
        make_checker,
        residential_gaps,
    )

    p = pack if isinstance(pack, Pack) else load_pack(pack)
    shown = layers_in_jurisdiction(p, store, kinds=kinds, clip=clip)
    area = jurisdiction_area(p, store)
    if checked is None and sites is not None:
        checked = make_checker(p, store).check(sites, project=project)
    uncovered = residential_gaps(p, store, area_of=area) if gaps else None
    return JurisdictionMap(p, area, shown, uncovered, checked)
