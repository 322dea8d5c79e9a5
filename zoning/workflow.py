"""One-call workflows shared by the command line and the web app.

These glue the store, the rule packs and the check engine together so that the
front doors stay thin: load the layers a pack needs (optionally as they were at an
earlier report, for reproduction), and keep a ready :class:`SiteChecker` per pack.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from geo.errors import InputFormatError, MissingLayerError
from layers.kinds import canonical_kind
from zoning.check.engine import SiteChecker
from zoning.jurisdiction import jurisdiction_codes, jurisdiction_rows
from zoning.pack import Pack, load_pack

log = logging.getLogger(__name__)


def parse_as_of(value: str | os.PathLike[str] | Mapping[str, int] | None) -> dict[str, int]:
    """Read layer versions to reproduce a check with.

    Parameters
    ----------
    value
        ``"redline=3,well=2"``, a path to an earlier ``report.json`` (its stamp's
        layer versions are used), a mapping name → version, or None.

    Returns
    -------
    dict
        Layer name → version (empty: latest versions).

    Raises
    ------
    InputFormatError
        If the text or the report cannot be read.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    text = str(value)
    path = Path(text)
    if path.suffix.lower() == ".json" or path.is_file():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            layers = report["stamp"]["layers"]
            return {meta.get("name", kind): int(meta["version"]) for kind, meta in layers.items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = (
                f"{path}: not an ecozone report with a stamp of layer versions ({exc}); "
                "pass versions as 'redline=3,well=2' instead"
            )
            raise InputFormatError(msg) from exc
    versions: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, ver = part.partition("=")
        if not sep or not ver.strip().isdigit():
            msg = f"--as-of {text!r}: expected NAME=VERSION pairs such as 'redline=3,well=2'"
            raise InputFormatError(msg)
        versions[name.strip()] = int(ver)
    return versions


def store_layers(
    store: Any, kinds: Iterable[str], *, as_of: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Load from ``store`` the latest layer of each kind (or a pinned version).

    Parameters
    ----------
    store
        A :class:`layers.LayerStore` (or any store with ``list_layers``, ``get``,
        ``get_kind``).
    kinds
        Layer kinds wanted; "site_exit" (built from the project, not stored) is skipped.
    as_of
        Layer name → version to use instead of the latest (reproduction).

    Returns
    -------
    dict
        Layer kind → :class:`layers.Layer`. Kinds the store lacks are left out; the
        check engine then names them.

    Raises
    ------
    InputFormatError
        If ``as_of`` names a layer the store does not hold.
    """
    as_of = dict(as_of or {})
    listing = store.list_layers()
    unknown = set(as_of) - set(listing["name"])
    if unknown:
        msg = f"--as-of names layers the store does not hold: {sorted(unknown)}"
        raise InputFormatError(msg)
    by_kind: dict[str, Any] = {}
    for kind in dict.fromkeys(kinds):
        if kind == "site_exit":
            continue
        names = listing.loc[listing["kind"] == kind, "name"].tolist()
        pinned = [n for n in names if n in as_of]
        try:
            if pinned:
                by_kind[kind] = store.get(pinned[0], as_of[pinned[0]])
            elif names:
                by_kind[kind] = store.get_kind(kind)
        except MissingLayerError:
            continue
    return by_kind


def load_pack_layers(
    pack: Pack, store: Any, *, as_of: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Load from ``store`` the layers of every kind ``pack`` uses (see :func:`store_layers`).

    The boundary layer comes too, even when no rule reads it: the checker tests sites
    against the pack's jurisdiction in it.
    """
    return store_layers(store, [*sorted(pack.layer_kinds()), "boundary"], as_of=as_of)


def make_checker(
    pack: str | Pack,
    store: Any,
    *,
    as_of: Mapping[str, int] | None = None,
    missing_layers: str = "raise",
) -> SiteChecker:
    """Build a :class:`SiteChecker` for ``pack`` over the layers in ``store``.

    The checker indexes every layer once (STRtree); reuse it for many checks.

    Parameters
    ----------
    pack
        Pack name ("tongzhou"), path, or :class:`Pack`.
    store
        A :class:`layers.LayerStore`.
    as_of
        Layer versions to pin (see :func:`parse_as_of`).
    missing_layers
        "raise" (default) or "skip" rules whose layer kind the store lacks.

    Returns
    -------
    SiteChecker
    """
    pack = load_pack(pack) if not isinstance(pack, Pack) else pack
    layers = load_pack_layers(pack, store, as_of=as_of)
    return build_checker(pack, layers, missing_layers=missing_layers)


def build_checker(
    pack: Pack, layers: Mapping[str, Any], *, missing_layers: str = "raise", **kwargs: Any
) -> SiteChecker:
    """A :class:`SiteChecker` for every front door (CLI, web, batch, dask).

    The checker finds the pack's jurisdiction and the layers' extents in the layers
    themselves (:func:`zoning.check.evidence.check_evidence`), so every path refuses
    sites outside the jurisdiction and judges uncovered rules 数据不足 alike.
    ``kwargs`` go to :class:`SiteChecker`.

    Returns
    -------
    SiteChecker
    """
    return SiteChecker(pack, layers, missing_layers=missing_layers, **kwargs)  # type: ignore[arg-type]


def site_screening(
    checker: SiteChecker, site: Any, *, radii_m: Sequence[float] | None = None
) -> Any:
    """Every feature of the checker's layers within the screening radii of one site.

    Parameters
    ----------
    checker
        A built :class:`SiteChecker` (its layers are the pack's).
    site
        The site in WGS84 lon/lat.
    radii_m
        Radii in metres; default the pack's ``screening_radii_m``.

    Returns
    -------
    pandas.DataFrame
        See :func:`zoning.check.screening.screen_radius`.
    """
    from zoning.check.screening import LABEL_COLUMNS, screen_radius

    # the columns the screening reads: a frame of every attribute costs more than the list
    frames = checker_layer_frames(checker, columns=LABEL_COLUMNS)
    frames.pop("boundary", None)  # the site's own district is no screening finding
    radii = list(radii_m) if radii_m else list(checker.pack.screening_radii_m)
    return screen_radius(site, frames, radii_m=radii)


def checker_layer_frames(
    checker: SiteChecker, *, columns: Sequence[str] | None = None
) -> dict[str, Any]:
    """The layers a checker indexed, as GeoDataFrames (EPSG:4326) for maps.

    Parameters
    ----------
    checker
        A built :class:`SiteChecker`.
    columns
        The attribute columns to keep besides ``feature_id`` and ``name`` (those a
        layer lacks are left out); default every column the rules use.

    Returns
    -------
    dict
        Layer kind → GeoDataFrame with ``feature_id``, ``name`` and the attribute
        columns the rules use (or ``columns``).
    """
    import geopandas as gpd

    frames = {}
    for kind, ix in checker.index.items():
        data = {"feature_id": ix.ids, "name": ix.names}
        data.update(
            {
                k: v
                for k, v in ix.columns.items()
                if k not in data and (columns is None or k in columns)
            }
        )
        frames[kind] = gpd.GeoDataFrame(data, geometry=ix.geoms, crs="EPSG:4326")
    return frames


def jurisdiction_districts(pack: Pack, boundary: Any) -> Any:
    """The districts of a pack's jurisdiction in a boundary layer (for maps and tables).

    Parameters
    ----------
    pack
        The rule pack (its ``jurisdiction.adcodes``).
    boundary
        The boundary layer (GeoDataFrame or :class:`layers.Layer`).

    Returns
    -------
    geopandas.GeoDataFrame or None
        :func:`zoning.coverage.metrics.districts_of` of the pack's adcodes; None when
        the pack names no adcode.
    """
    from zoning.coverage import districts_of

    codes = jurisdiction_codes(pack)
    return districts_of(boundary, codes) if codes else None


def jurisdiction_area(pack: Pack, store: Any) -> Any:
    """The pack's jurisdiction as one lon/lat geometry, from the boundary layer.

    Parameters
    ----------
    pack
        The rule pack (its ``jurisdiction.adcodes``).
    store
        A :class:`layers.LayerStore` holding a "boundary" layer.

    Returns
    -------
    shapely.Geometry
        Union of the jurisdiction's boundary polygons (EPSG:4326).

    Raises
    ------
    MissingLayerError
        If the store has no boundary layer or none of the pack's adcodes.
    """
    import shapely

    match = jurisdiction_rows(pack, store.get_kind("boundary").gdf)
    codes = [str(c) for c in pack.jurisdiction.adcodes]
    if match.empty:
        msg = (
            f"the boundary layer holds none of pack {pack.name!r}'s adcodes {codes}; "
            "import the jurisdiction boundary (ecozone layers import FILE --kind boundary)"
        )
        raise MissingLayerError(msg)
    return shapely.union_all(match.to_crs("EPSG:4326").geometry.to_numpy())


def layers_in_jurisdiction(
    pack: str | Pack, store: Any, *, kinds: list[str] | None = None, clip: bool = True
) -> dict[str, Any]:
    """The layers of ``kinds`` (default: the pack's kinds + boundary) inside its jurisdiction.

    Features are selected with the spatial index and, with ``clip``, cut to the
    jurisdiction so a district map shows only the district. For display only: the
    measurements use the whole features.

    Parameters
    ----------
    pack
        Pack name, path or :class:`Pack`.
    store
        A :class:`layers.LayerStore`.
    kinds
        Layer kinds to include; kinds the store lacks are left out.
    clip
        Cut features at the jurisdiction boundary.

    Returns
    -------
    dict
        Kind → GeoDataFrame (EPSG:4326).
    """
    from geo.overlay import clip_to_area

    pack = load_pack(pack) if not isinstance(pack, Pack) else pack
    area = jurisdiction_area(pack, store)
    wanted = kinds or ["boundary", *[k for k in pack.layer_kinds() if k != "site_exit"]]
    out: dict[str, Any] = {}
    for kind in dict.fromkeys(wanted):
        try:
            gdf = store.get_kind(kind).gdf
        except MissingLayerError:
            log.info("layer kind %s not in the store: left off the map", kind)
            continue
        if kind == "boundary":
            gdf = jurisdiction_rows(pack, gdf, children=True)
        elif clip:
            gdf = clip_to_area(gdf, area)
        else:
            gdf = gdf.iloc[sorted(gdf.sindex.query(area, predicate="intersects"))]
        if len(gdf):
            if canonical_kind(kind) in pack.zones:  # the pack's own name, for legends
                gdf = gdf.copy()
                gdf.attrs.update(
                    label_zh=pack.kind_label(kind, "zh"), label_en=pack.kind_label(kind, "en")
                )
            out[kind] = gdf
    return out


def residential_gaps(
    pack: Pack, store: Any, *, area_of: Any = None, districts: Any = None, parks: Any = None
) -> Any:
    """Residential land outside the park service areas of a pack (its ``park_service``).

    The one gaps step of the maps, the web coverage map, the demo and
    :func:`coverage_gaps`.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack`.
    store
        A layer store with "park" and "residential" layers.
    area_of
        The area measured (a geometry or frame); default the store's whole layers.
    districts
        District polygons to split the gaps by.
    parks
        The park features to use instead of the store's latest park layer.

    Returns
    -------
    geopandas.GeoDataFrame
        :func:`zoning.coverage.gaps.uncovered_residential`.

    Raises
    ------
    MissingLayerError
        The store has no park or no residential layer.
    """
    from zoning.coverage.gaps import uncovered_residential

    parks = store.get_kind("park") if parks is None else parks
    residential = store.get_kind("residential")
    return uncovered_residential(
        parks, residential, tiers=pack.park_service, area_of=area_of, districts=districts
    )


def coverage_gaps(
    pack: str | Pack,
    store: Any,
    *,
    n_candidates: int = 10,
    candidates: Any = None,
    radius_m: float = 300.0,
    spacing_m: float = 200.0,
) -> tuple[Any, Any]:
    """Uncovered residential land of a pack's jurisdiction, and pocket-park candidates.

    The one implementation behind ``ecozone gaps``, the QGIS "Gaps and pocket parks"
    algorithm and the demo: :func:`zoning.coverage.gaps.uncovered_residential` with the pack's
    park service tiers and districts, then :func:`zoning.coverage.gaps.pocket_park_sites`.

    Parameters
    ----------
    pack
        Pack name, path or :class:`Pack`.
    store
        A :class:`layers.LayerStore` with park, residential and boundary layers.
    n_candidates
        How many new pocket-park sites to propose (0: none).
    candidates
        Candidate parcels or points (GeoDataFrame) instead of a grid.
    radius_m, spacing_m
        Service radius of a new pocket park; candidate grid spacing (metres).

    Returns
    -------
    tuple
        ``(uncovered, chosen)``: GeoDataFrames (``chosen`` is ``None`` when no
        candidate was asked for or nothing is uncovered).
    """
    from zoning.coverage.gaps import pocket_park_sites

    pack = load_pack(pack) if not isinstance(pack, Pack) else pack
    area = jurisdiction_area(pack, store)
    parks, residential = store.get_kind("park"), store.get_kind("residential")
    boundary = store.get_kind("boundary")
    uncovered = residential_gaps(
        pack,
        store,
        area_of=area,
        districts=jurisdiction_districts(pack, boundary),
        parks=parks,
    )
    chosen = None
    if n_candidates > 0 and len(uncovered):
        chosen = pocket_park_sites(
            uncovered,
            n=n_candidates,
            radius_m=radius_m,
            spacing_m=spacing_m,
            candidates=candidates,
            exclude=[residential, parks],
        )
    return uncovered, chosen
