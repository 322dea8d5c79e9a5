"""What a check can back with data: the jurisdiction, layer extents, insufficient data.

Private to :mod:`zoning.check.engine`. A verdict of 符合 needs evidence: the site lies in the
pack's jurisdiction and every rule's layer holds data for the whole site. This module
holds the vectorised tests behind that:

- :func:`evidence_areas` — the jurisdiction and the layer extents, prepared (GEOS
  prepared geometries: one vectorised predicate call per chunk, no loop over sites);
- :func:`mark_outside` — sites that do not intersect the jurisdiction become errors
  with status ``outside_jurisdiction``;
- :func:`coverage` — per layer kind, which sites of a chunk its extent covers whole;
- :func:`missing_text_codes` — the outcome and requirement texts of
  ``"insufficient_data"`` findings (what to import), as categorical codes;
- :func:`add_insufficient` — an ``"insufficient_data"`` finding for each (site, rule)
  whose conditions hold, whose layer does not cover the site and that did not fire.

This module does not import :mod:`zoning.check.engine`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from zoning.check.notes import missing_hint, rule_data_kinds
from zoning.check.parts import covers_whole
from zoning.check.prepared import prepared_test
from zoning.check.result import _Sites
from zoning.jurisdiction import jurisdiction_rows
from zoning.pack import Pack, Rule

if TYPE_CHECKING:
    from zoning.check.findings import FindingRows

log = logging.getLogger(__name__)

#: Error status of a site outside the pack's jurisdiction (batch rows, REST reason).
OUTSIDE_JURISDICTION = "outside_jurisdiction"


def evidence_areas(
    jurisdiction: shapely.Geometry | None,
    extents: Mapping[str, shapely.Geometry | None] | None,
    kinds: Sequence[str],
) -> tuple[shapely.Geometry | None, dict[str, shapely.Geometry]]:
    """The jurisdiction and the extents of ``kinds``, prepared (``None``/absent: unbounded).

    Raises
    ------
    TypeError
        A value that is not a shapely geometry.
    """
    jur = None
    if jurisdiction is not None:
        if not isinstance(jurisdiction, shapely.Geometry):
            msg = f"`jurisdiction` must be a shapely geometry, got {type(jurisdiction).__name__}"
            raise TypeError(msg)
        jur = jurisdiction
        shapely.prepare(jur)
    # layers of one jurisdiction mostly record the same extent: equal areas become one
    # object, tested once per block (see coverage) and prepared and gridded once
    areas: list[shapely.Geometry] = [] if jur is None else [jur]
    out: dict[str, shapely.Geometry] = {}
    for kind, geom in (extents or {}).items():
        if geom is None or kind not in kinds:
            continue
        if not isinstance(geom, shapely.Geometry):
            msg = f"extents[{kind!r}] must be a shapely geometry, got {type(geom).__name__}"
            raise TypeError(msg)
        same = next((a for a in areas if shapely.equals_exact(a, geom, tolerance=0)), None)
        if same is None:
            shapely.prepare(geom)
            areas.append(geom)
            same = geom
        out[kind] = same
    return jur, out


def mark_outside(s: _Sites, jurisdiction: shapely.Geometry | None, pack_name: str) -> None:
    """Make the usable sites of ``s`` that miss ``jurisdiction`` errors (in place)."""
    if jurisdiction is None:
        return
    live = np.flatnonzero(s.ok)
    if len(live) == 0:
        return
    geoms = s.geoms[live]
    if s.xy is not None:  # all single points (their coordinates read once)
        # a point meets an area exactly when the area covers it: many points by grid;
        # the blocks' own tests of the jurisdiction take this answer (s.inside)
        meets = covers_whole(jurisdiction, geoms, s.xy[live])
        s.inside = np.zeros(len(s.geoms), dtype=bool)
        s.inside[live] = meets
    else:
        meets = np.zeros(len(live), dtype=bool)
        point = shapely.get_type_id(geoms) == 0
        meets[point] = covers_whole(jurisdiction, geoms[point])
        # lines and polygons through the lock: GEOS keeps scratch state in the prepared
        # jurisdiction for them, and the lanes of a batch or a server's request threads
        # share it (two at once crashed the process)
        meets[~point] = prepared_test(shapely.intersects, jurisdiction, geoms[~point])
    out = live[~meets]
    if len(out) == 0:
        return
    reason = (
        f"选址不在规则包 {pack_name!r} 的管辖范围内，不予判定 / the site lies outside the "
        f"jurisdiction of pack {pack_name!r}: its rules do not apply there. Check the "
        "coordinates and the coordinate system they are given in, or choose the pack of the "
        "site's jurisdiction"
    )
    for i in out.tolist():
        s.reasons[i] = reason
        s.codes[i] = OUTSIDE_JURISDICTION
    s.ok[out] = False


def coverage(
    geoms_ll: NDArray[Any],
    kinds: Sequence[str],
    extents: Mapping[str, shapely.Geometry],
    missing: Sequence[str],
    xy: NDArray[np.float64] | None = None,
    done: dict[int, NDArray[np.bool_]] | None = None,
) -> dict[str, NDArray[np.bool_] | None]:
    """Per kind: whether its extent covers each site whole (``None``: every site).

    ``xy``: the sites' coordinates when they are all single 2-D points (see
    :func:`zoning.check.parts.covers_whole`). Kinds sharing one extent object
    (:func:`evidence_areas` makes equal extents one) share one test; ``done`` (area
    ``id`` → result) receives each area's result, for the caller to reuse.
    """
    out: dict[str, NDArray[np.bool_] | None] = {}
    done = {} if done is None else done
    for kind in kinds:
        ext = extents.get(kind)
        if ext is None:
            out[kind] = None
            continue
        if id(ext) not in done:
            # covers(extent, sites), not covered_by(sites, extent): GEOS uses the prepared
            # extent only as the first argument (covered_by was 250x slower on 5 000 points)
            done[id(ext)] = covers_whole(ext, geoms_ll, xy)  # many parts: linear
        out[kind] = done[id(ext)]
    for kind in missing:
        out[kind] = np.zeros(len(geoms_ll), dtype=bool)
    return out


def missing_text_codes(
    rules: Sequence[Rule], dtypes: dict[str, pd.CategoricalDtype], outcome_order: Mapping[str, int]
) -> dict[str, Any]:
    """Codes of the requirement texts of findings whose ``missing`` code is 1 or 2.

    ``missing`` 1: an ``insufficient_data`` finding (its text: what to import); 2: a rule
    for particular project types or industries on a site whose project did not give its
    type or industry code (its text: what to give); the texts are
    :func:`zoning.check.notes.missing_hint`'s. Extends the categories of
    ``dtypes["requirement"]`` / ``["requirement_en"]`` (in place) with the texts, and
    returns ``{"outcome": code, "requirement": codes, "requirement_en": codes}``, the
    codes of shape (3, rules), indexed by the ``missing`` code (row 0 unused).
    """
    hints = [[missing_hint(r, code) for r in rules] for code in (1, 2)]
    out: dict[str, Any] = {"outcome": list(outcome_order).index("insufficient_data")}
    for col, k in (("requirement", 0), ("requirement_en", 1)):
        cats = list(dtypes[col].categories)
        texts = [[h[k] for h in kind] for kind in hints]
        known = set(cats)
        new = [t for t in dict.fromkeys(t for kind in texts for t in kind) if t not in known]
        dtypes[col] = pd.CategoricalDtype([*cats, *new])
        index = pd.Index(dtypes[col].categories)
        unused = np.zeros(len(rules), dtype=np.intp)
        out[col] = np.asarray([unused, *(index.get_indexer(t) for t in texts)], dtype=np.intp)
    return out


def add_insufficient(
    rows: FindingRows,
    rules: Sequence[Rule],
    cond: NDArray[np.bool_],
    profile: NDArray[np.intp],
    covered: Mapping[str, NDArray[np.bool_] | None],
    insufficient_code: int,
) -> None:
    """Add the ``insufficient_data`` findings of a block to ``rows`` (``missing`` column: 1).

    A (site, rule) pair gets one when the rule's conditions hold for the site's
    project, the rule did not fire, and a layer it needs does not cover the whole
    site. A rule that fired on such a site with an outcome milder than
    ``insufficient_data`` (information, requirements, needs_review: what lies in the
    uncovered part is unknown) has its finding raised to ``insufficient_data``;
    prohibited and restricted findings stand (found is found). The rows are sorted
    afterwards, once (:meth:`zoning.check.findings.FindingRows.join`).
    """
    n = len(profile)
    nrules = len(rules)
    f_site = rows.column("site")
    f_rule = rows.column("rule")
    fired = np.zeros((n, nrules), dtype=bool)
    fired[f_site, f_rule] = True
    lacking_rule = np.zeros((n, nrules), dtype=bool)
    sites: list[NDArray[np.intp]] = []
    rule_pos: list[int] = []
    for r_i, rule in enumerate(rules):
        need = [covered.get(k) for k in rule_data_kinds(rule)]
        need = [c for c in need if c is not None]
        if not need:
            continue
        lacking = ~np.logical_and.reduce(need)
        lacking_rule[:, r_i] = lacking
        hit = lacking & cond[profile, r_i] & ~fired[:, r_i]
        if hit.any():
            sites.append(np.flatnonzero(hit))
            rule_pos.append(r_i)
    if len(f_site):
        outcome = rows.column("outcome")
        raise_ = lacking_rule[f_site, f_rule] & (outcome < insufficient_code)
        if raise_.any():
            rows.replace("outcome", np.where(raise_, insufficient_code, outcome).astype(np.int8))
            rows.replace("missing", raise_.astype(np.int8))
    no_feature = np.empty(1, dtype=object)
    no_feature[0] = ()  # an empty tuple, shared by the new rows
    for idx, r_i in zip(sites, rule_pos, strict=True):
        rows.add(
            idx, r_i, insufficient_code,
            feature_ids=np.broadcast_to(no_feature, (len(idx),)),
            missing=np.ones(len(idx), np.int8),
        )  # fmt: skip


def check_evidence(
    pack: Pack, layers: Mapping[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The pack's jurisdiction and each layer's extent, from the layers themselves.

    The jurisdiction is the union of the ``boundary`` layer's polygons with the
    pack's adcodes (data, never code). A stored layer's extent is the one recorded
    for its version, else the default computed now (the top-level jurisdictions its
    features fall in, :func:`layers.extent.default_extent`); a GeoDataFrame's is its
    ``attrs["extent"]`` (none: authoritative everywhere, as the caller vouches for
    it); the boundary layer is authoritative where its polygons are.

    Parameters
    ----------
    pack
        The rule pack.
    layers
        Kind → :class:`layers.Layer` or GeoDataFrame (as the checker gets them).

    Returns
    -------
    (geometry or None, dict, dict)
        The jurisdiction (``None``: no boundary layer holds it, so it is not
        tested), kind → extent geometry (lon/lat) and kind → the extent's stamp entry.
    """
    from layers.extent import default_extent, extent_stamp, resolve_extent

    boundary = layers.get("boundary")
    jurisdiction = None
    if boundary is not None:
        match = jurisdiction_rows(pack, boundary)
        if len(match):
            jurisdiction = shapely.union_all(match.to_crs("EPSG:4326").geometry.to_numpy())
    if jurisdiction is None:
        log.warning(
            "pack %s: no boundary polygon for adcodes %s; sites are not tested against "
            "its jurisdiction (import it: ecozone layers import FILE --kind boundary)",
            pack.name, list(pack.jurisdiction.adcodes),
        )  # fmt: skip
    extents: dict[str, Any] = {}
    stamps: dict[str, Any] = {}
    for kind, layer in layers.items():
        if kind == "boundary":
            continue
        if isinstance(layer, gpd.GeoDataFrame):
            ext, source = layer.attrs.get("extent"), "given"
        elif getattr(layer, "extent", None) is not None:
            ext, source = layer.extent, "recorded"
        else:
            ext, source = default_extent(layer.gdf, boundary), "default"
        geom, lacking = resolve_extent(ext, boundary)
        if lacking:
            log.warning(
                "layer %s: extent adcodes %s are not in the boundary layer (they cover nothing)",
                kind, lacking,
            )  # fmt: skip
        extents[kind] = geom
        stamps[kind] = extent_stamp(ext, source=source)
    return jurisdiction, extents, stamps
