"""The Layer object (features + provenance) and its content checksum.

The checksum is a sha256 over a canonical form of the features, so that the same
content gives the same digest however it was produced or read:

- rows sorted by ``feature_id`` (when present), columns sorted by name;
- each column tagged by value type (number, bool, time, text, all-null), numbers
  written in shortest round-trip form with integral floats written as integers
  (``2.0`` and ``2`` agree, so a null-bearing integer column read back as float
  does not change the digest), times as ISO 8601 in UTC, nulls as JSON ``null``;
- geometries as little-endian ISO WKB, with the CRS as "AUTHORITY:CODE".

The store computes it on the frame read back from the GeoPackage, and recomputes
it on every read to detect tampering or damage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.kinds import LayerKind, canonical_kind, kind_info

__all__ = ["Layer", "layer_checksum"]

_CHECKSUM_VERSION = b"ecozone-layer-checksum/1\n"


def _canonical_column(s: pd.Series) -> tuple[str, list[str | None]]:
    """Type tag and canonical text values of one column (None for nulls)."""
    null = s.isna().to_numpy()
    tag = pd.api.types.infer_dtype(s, skipna=True)
    if tag == "empty":
        return "z", [None] * len(s)
    if tag == "boolean":
        text = np.where(s.to_numpy(dtype=object) == True, "1", "0")  # noqa: E712 (object array)
        kind = "b"
    elif tag in ("integer", "floating", "mixed-integer-float", "decimal"):
        kind = "n"
        if pd.api.types.is_integer_dtype(s.dtype):
            text = s.astype("string").to_numpy(dtype=object, na_value="")
        else:
            f = s.to_numpy(dtype="float64", na_value=np.nan)
            integral = np.isfinite(f) & (np.abs(f) < 2.0**53)
            integral[integral] = f[integral] == np.round(f[integral])
            text = f.astype(str).astype(object)
            text[integral] = f[integral].astype(np.int64).astype(str)
    elif tag in ("datetime64", "datetime", "date"):
        kind = "t"
        t = pd.to_datetime(s, utc=True, errors="coerce")
        text = t.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy(dtype=object, na_value="")
    else:
        kind = "s"
        text = s.astype(object).map(str, na_action="ignore").to_numpy(dtype=object)
    text = np.asarray(text, dtype=object)
    text[null] = None
    return kind, text.tolist()


def layer_checksum(gdf: gpd.GeoDataFrame) -> str:
    """Return the sha256 hex digest of a layer's canonical content.

    Parameters
    ----------
    gdf
        Layer features (any columns; ``feature_id`` orders the rows when unique).

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> a = gpd.GeoDataFrame({"feature_id": ["a", "b"], "v": [1, 2]},
    ...                      geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    >>> layer_checksum(a) == layer_checksum(a.iloc[::-1])
    True
    """
    h = hashlib.sha256(_CHECKSUM_VERSION)
    geom_col = gdf.geometry.name
    order = np.arange(len(gdf))
    if "feature_id" in gdf.columns and gdf["feature_id"].is_unique:
        ids = gdf["feature_id"].astype(object).map(str, na_action="ignore").to_numpy()
        order = np.argsort(ids.astype(str), kind="stable")
    cols = sorted(str(c) for c in gdf.columns if c != geom_col)
    crs = gdf.crs.to_string() if gdf.crs is not None else None
    h.update(json.dumps({"columns": cols, "crs": crs, "rows": len(gdf)}).encode())
    for c in cols:
        tag, values = _canonical_column(gdf[c].iloc[order])
        h.update(json.dumps([c, tag, values], ensure_ascii=False).encode("utf-8"))
    wkb = shapely.to_wkb(gdf.geometry.to_numpy()[order], byte_order=1, include_srid=False)
    # Length prefixes keep the concatenation unambiguous; -1 marks a null geometry.
    lengths = np.fromiter((-1 if w is None else len(w) for w in wkb), np.int64, len(wkb))
    h.update(lengths.astype("<i8").tobytes())
    h.update(b"".join(w for w in wkb if w is not None))
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Layer:
    """A thematic layer: features plus where they came from.

    Attributes
    ----------
    gdf : GeoDataFrame
        Features in EPSG:4326 with ``feature_id``, ``name``, ``synthetic`` and the
        kind's columns (see :mod:`layers.kinds`).
    kind : str
        One of :data:`layers.LAYER_KINDS`.
    name : str
        Layer name in the store ("redline", "district_units").
    source : str
        The document or file the features come from.
    source_date : str or None
        Date of the source, ISO ("2021-12-30", or "2021-12").
    version : int
        1-based version within the store (0 for a layer not stored yet).
    crs : str
        CRS of ``gdf`` ("EPSG:4326").
    row_count : int
        Number of features.
    checksum : str
        sha256 of the canonical content (:func:`layer_checksum`).
    synthetic : bool
        Demonstration data (some or all features are synthetic).
    created_at : datetime
        When this version was imported (UTC).
    source_crs : str or None
        CRS of the data as imported, before reprojection to EPSG:4326.
    extent : dict or None
        The area this version is authoritative for, as recorded in the store
        (:mod:`layers.extent`: ``{"adcodes": [...]}`` or ``{"wkt": ...}``); ``None``
        when nothing is recorded (the default is computed when a check reads it).
        Not part of the checksum.
    """

    gdf: gpd.GeoDataFrame
    kind: str
    name: str
    source: str
    source_date: str | None
    version: int
    crs: str
    row_count: int
    checksum: str
    synthetic: bool
    created_at: datetime
    source_crs: str | None = None
    extent: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # an old kind name read from an older store (layers.kinds.KIND_ALIASES)
        object.__setattr__(self, "kind", canonical_kind(self.kind))

    @property
    def spec(self) -> LayerKind:
        """The registered kind (labels, colour, columns)."""
        return kind_info(self.kind)

    @property
    def label_zh(self) -> str:
        """Chinese label of the kind, for legends."""
        return self.spec.label_zh

    @property
    def label_en(self) -> str:
        """English label of the kind, for legends."""
        return self.spec.label_en

    @property
    def color(self) -> str:
        """Default style colour of the kind."""
        return self.spec.color

    def stamp(self) -> dict[str, Any]:
        """Return the report stamp of this layer: name, kind, version, checksum, synthetic."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "checksum": self.checksum,
            "synthetic": self.synthetic,
        }

    def __repr__(self) -> str:
        demo = ", synthetic" if self.synthetic else ""
        return (
            f"Layer({self.name!r} v{self.version}, kind={self.kind!r} ({self.label_zh}), "
            f"{self.row_count} features{demo}, checksum={self.checksum[:12]}…)"
        )
