"""The use cases, once: shared by the command line, the web app, QGIS and the demo.

- :func:`write_site_report` — **check → report → map**: the report of one checked site,
  its site map drawn from the checker's layers, written in the requested formats
  (``ecozone check --report``, the QGIS site report, ``ecozone demo``);
- :func:`jurisdiction_map` — **jurisdiction → layers → gaps → map**: a pack's
  jurisdiction (:func:`zoning.workflow.jurisdiction_area`), the layers inside it, the
  residential land outside park service areas and, optionally, checked sites: what
  every map output draws (``ecozone map``, ``ecozone demo``);
- the gaps step on its own is :func:`zoning.workflow.residential_gaps` (also the web
  coverage map and ``ecozone gaps`` through :func:`zoning.workflow.coverage_gaps`);
- :func:`coverage_map_layers` — **jurisdiction → layers → gaps** of the web coverage
  map (whole features near the jurisdiction, its districts, the gaps by district);
- :func:`site_checker` and :func:`check_site` — **store → checker → check → screening**
  of ``ecozone check`` without ``--out`` (one site, or a few, with the screening list
  of the first);
- :func:`check_and_report` — **check → report** of one site, the web site check
  (``POST /api/check``, the check page), with :func:`site_report_of` and
  :func:`refuse_unchecked`, the one refusal of a site that could not be checked
  (outside the jurisdiction: not a verdict), shared with ``ecozone check``.

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
    "SiteCheck",
    "SiteReport",
    "check_and_report",
    "check_site",
    "coverage_map_layers",
    "jurisdiction_map",
    "refuse_unchecked",
    "site_checker",
    "site_report_of",
    "write_site_report",
]


def refuse_unchecked(result: Any, *, limit: int = 5) -> None:
    """Raise when a check result holds no checked site: say why, in the checker's words.

    Parameters
    ----------
    result
        A :class:`zoning.check.result.CheckResult`.
    limit
        Most reasons named.

    Raises
    ------
    OutsideJurisdictionError
        Every site lies outside the pack's jurisdiction (not a verdict).
    InputFormatError
        No site could be checked for another reason (the reasons named).
    """
    from geo.errors import InputFormatError, OutsideJurisdictionError

    if len(result.sites):
        return
    errors = result.errors
    reasons = "; ".join(errors["reason"].astype(str).head(limit)) if len(errors) else ""
    if len(errors) and (errors["status"] == "outside_jurisdiction").all():
        raise OutsideJurisdictionError(reasons)
    msg = f"场址无法检查 / the site cannot be checked: {reasons or 'the input holds no site'}"
    raise InputFormatError(msg)


def site_report_of(result: Any, project: Any = None) -> dict[str, Any]:
    """The report dict of a single-site check result (:func:`zoning.report.build.build_report`).

    Parameters
    ----------
    result
        A :class:`zoning.check.result.CheckResult` of one site.
    project
        The project the site was checked for.

    Returns
    -------
    dict

    Raises
    ------
    OutsideJurisdictionError, InputFormatError
        The site could not be checked (:func:`refuse_unchecked`).
    """
    from geo.errors import InputFormatError
    from zoning.report.build import build_report

    try:
        # a checked site reports straight from the engine's arrays: result.errors (a
        # DataFrame, built on first read) is only read when there is no checked site
        return build_report(result, project=project)
    except InputFormatError:
        refuse_unchecked(result, limit=1)
        raise


def site_checker(pack: Any, store: Any = None, *, as_of: Any = None) -> Any:
    """The checker of a pack over a store's layers, as a site check builds it.

    A layer kind the store lacks does not stop the check: its rules are judged
    数据不足 (insufficient data), with a warning, never left out.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack` or a pack name / path.
    store
        A store path or URL (``None``: the default store), or an open
        :class:`layers.LayerStore`.
    as_of
        Layer versions to use: what :func:`zoning.workflow.parse_as_of` reads (``--as-of``
        text or file, a mapping kind → version, ``None``: the current ones).

    Returns
    -------
    zoning.check.engine.SiteChecker
    """
    from layers import open_store
    from zoning.workflow import make_checker, parse_as_of

    as_of = parse_as_of(as_of)
    if hasattr(store, "get_kind"):
        return make_checker(pack, store, as_of=as_of, missing_layers="skip")
    with open_store(store) as st:
        return make_checker(pack, st, as_of=as_of, missing_layers="skip")


@dataclass
class SiteCheck:
    """One check of :func:`check_site`: the result and the first site's screening list.

    Attributes
    ----------
    result
        The :class:`zoning.check.result.CheckResult`.
    screening
        Features of the pack's layers within the screening radii of the first site
        (:func:`zoning.workflow.site_screening`).
    """

    result: Any
    screening: Any


def check_site(
    checker: Any,
    sites: Any,
    *,
    project: Any = None,
    input_system: str | None = None,
    radii_m: Iterable[float] | None = None,
    result: Any = None,
) -> SiteCheck:
    """Check → refusal → screening: a site check as ``ecozone check`` prints it.

    Parameters
    ----------
    checker
        A built checker (:func:`site_checker`).
    sites
        A GeoDataFrame of sites (any CRS; ``site_id`` / ``source_row`` kept).
    project
        The project (:class:`zoning.project.Project`).
    input_system
        The coordinate system the sites were given in (``"gcj02"``, ...), for the notes.
    radii_m
        Screening radii in metres; default the pack's ``screening_radii_m``.
    result
        An existing result of these sites (a report already checked them): only the
        refusal and the screening are done.

    Returns
    -------
    SiteCheck

    Raises
    ------
    OutsideJurisdictionError
        A site lies outside the pack's jurisdiction (:func:`refuse_unchecked`).
    """
    from zoning.workflow import site_screening

    if result is None:
        result = checker.check(sites, project=project, input_system=input_system)
    refuse_unchecked(result)  # outside the jurisdiction is not a verdict
    first = result.sites.geometry.iloc[0]  # the screening list is for one site
    radii = list(radii_m) if radii_m is not None else None
    return SiteCheck(result, site_screening(checker, first, radii_m=radii))


def check_and_report(checker: Any, site: Any, project: Any = None) -> tuple[Any, dict[str, Any]]:
    """Check → report: check one site and build its report dict.

    Parameters
    ----------
    checker
        A built :class:`zoning.check.engine.SiteChecker`.
    site
        A lon/lat shapely geometry (checked as ``site_id`` "site") or a one-row
        GeoDataFrame.
    project
        The project (:class:`zoning.project.Project`).

    Returns
    -------
    (CheckResult, dict)
        The result and its report (:func:`site_report_of`).

    Raises
    ------
    OutsideJurisdictionError, InputFormatError
        The site could not be checked (the reason comes from the checker).
    """
    import shapely

    if isinstance(site, shapely.Geometry):
        result = checker.check_geometry(site, site_id="site", project=project)
    else:
        result = checker.check(site, project=project)
    return result, site_report_of(result, project)


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


def coverage_map_layers(pack: Any, store: Any, kinds: Iterable[str]) -> tuple[dict[str, Any], Any]:
    """Jurisdiction → layers → gaps: what the web coverage map draws.

    The jurisdiction's districts (else its own boundary rows), the whole features of
    ``kinds`` whose geometry meets the jurisdiction's bounding box (all of them when the
    store holds no boundary of it) and the residential land outside park service
    areas, by district (:func:`zoning.workflow.residential_gaps`).

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack`.
    store
        The layer store.
    kinds
        The layer kinds drawn besides the boundary; kinds the store lacks are left out.

    Returns
    -------
    (dict, GeoDataFrame or None)
        Kind → features, and the gaps (None: no park or residential layer).
    """
    import logging

    from shapely import box

    from geo.errors import MissingLayerError
    from zoning.jurisdiction import jurisdiction_rows
    from zoning.workflow import jurisdiction_districts, residential_gaps

    try:
        boundary = store.get_kind("boundary").gdf
    except MissingLayerError:
        area = districts = None
    else:
        own = jurisdiction_rows(pack, boundary)
        area = own if len(own) else None
        districts = jurisdiction_districts(pack, boundary)
    layers: dict[str, Any] = {}
    if districts is not None and len(districts):
        layers["boundary"] = districts
    elif area is not None:
        layers["boundary"] = area
    for kind in kinds:
        try:
            gdf = store.get_kind(kind).gdf
        except MissingLayerError:
            continue
        if area is not None:
            gdf = gdf[gdf.intersects(box(*area.total_bounds))]
        layers[kind] = gdf
    gaps = None
    if "park" in layers:
        try:
            gaps = residential_gaps(
                pack, store, area_of=area, districts=districts, parks=layers["park"]
            )
        except MissingLayerError as exc:  # no residential layer, or no area
            logging.getLogger(__name__).info("no coverage gaps for %s: %s", pack.name, exc)
    return layers, gaps
