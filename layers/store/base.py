"""What every layer store backend shares: reading, importing and restoring versions.

:class:`StoreBase` is the base class of the GeoPackage :class:`~layers.store.LayerStore`
and the :class:`~layers.store.PostGISLayerStore`. A backend gives the metadata rows
(``_rows``, ``_latest_rows``, ``_row``; ``_metadata`` may hold one connection over
several), turns a row into a :class:`~layers.layer.Layer` (``_layer``), names itself
(``_where``), sets its SQL parameter marker (``_PARAM``) and writes one validated
version (``_write_version``);
listing, history, reading by name or kind, stamps, export, and the checks made
before :meth:`StoreBase.import_layer` and :meth:`StoreBase.restore_version` write
anything (name, kind, source, source date, reading a file with ``read_kwargs``,
validation and sanity, the default extent) are written once here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import LayerNotFoundError, LayerValidationError, MissingLayerError
from layers.extent import default_extent, parse_extent
from layers.kinds import KINDS, canonical_kind, kind_aliases, kind_info, validate_layer
from layers.layer import Layer
from layers.sanity import validated_import

__all__ = [
    "MissingKindError",
    "StoreBase",
    "StoreReadAPI",
    "check_layer_name",
    "norm_source_date",
    "now_iso",
    "restorable",
]

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_NAME_MAX = 48
_RESERVED = ("gpkg_", "rtree_", "ecozone_", "sqlite_")
_DATE_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def check_layer_name(name: str) -> str:
    """Return ``name`` if it can name a layer, else raise a LayerValidationError.

    Layer names become GeoPackage table names (``<name>__v<N>``), so they are
    lower-case ASCII letters, digits and single underscores, starting with a letter.
    """
    ok = (
        isinstance(name, str)
        and len(name) <= _NAME_MAX
        and _NAME_RE.match(name) is not None
        and not name.startswith(_RESERVED)
    )
    if not ok:
        slug = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "my_layer"
        if not slug[0].isalpha():
            slug = "layer_" + slug
        msg = (
            f"图层名不合法 / "
            f"Layer name {name!r} is not allowed: use lower-case letters, digits and single "
            f"underscores, starting with a letter, at most {_NAME_MAX} characters, not "
            f"starting with {'/'.join(_RESERVED)} (for example {slug[:_NAME_MAX]!r}). "
            "The name becomes the GeoPackage table '<name>__v<N>'; put the full title in "
            "'source'."
        )
        raise LayerValidationError(msg)
    return name


def norm_source_date(value: Any) -> str | None:
    """Return a layer's ``source_date`` as stored: ISO ``YYYY[-MM[-DD]]`` or ``None``.

    Raises
    ------
    LayerValidationError
        If ``value`` is neither a date nor an ISO date string.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if _DATE_RE.match(text):
        return text
    msg = (
        f"source_date {value!r} is not an ISO date; pass 'YYYY-MM-DD', 'YYYY-MM', 'YYYY' "
        "or a datetime.date"
    )
    raise LayerValidationError(msg)


def now_iso() -> str:
    """The current UTC time as stored in ``created_at`` (ISO, microseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class MissingKindError(LayerNotFoundError, MissingLayerError):
    """The store holds no layer of the requested kind (catch either parent)."""


def restorable(layer: Layer) -> tuple[str, gpd.GeoDataFrame]:
    """Check a layer read from another store before ``restore_version`` writes it.

    The store checks the name first (:func:`check_layer_name`).

    Parameters
    ----------
    layer
        A stored layer (``version`` ≥ 1).

    Returns
    -------
    (str, geopandas.GeoDataFrame)
        Its kind and its validated features.

    Raises
    ------
    LayerValidationError
        An unknown kind, a version below 1, or invalid features.
    """
    spec = kind_info(layer.kind)
    if int(layer.version) < 1:
        msg = f"layer {layer.name!r} has version {layer.version}; only stored layers restore"
        raise LayerValidationError(msg)
    return spec.name, validate_layer(layer.gdf, spec.name, name=layer.name)


#: Columns of :meth:`StoreReadAPI.list_layers` and :meth:`StoreReadAPI.history`.
_COLUMNS = (
    "name",
    "kind",
    "label_zh",
    "label_en",
    "version",
    "row_count",
    "synthetic",
    "source",
    "source_date",
    "created_at",
    "checksum",
    "crs",
    "source_crs",
    "table",
)


class StoreReadAPI:
    """Listing and reading layers; mixed into every store backend."""

    #: SQL parameter marker of the backend's driver ("?" for sqlite3, "%s" for psycopg).
    _PARAM = "?"

    # -- backend hooks ------------------------------------------------------------

    def _rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError

    def _latest_rows(self) -> list[Any]:
        raise NotImplementedError

    def _row(self, name: str, version: int | None) -> Any:
        raise NotImplementedError

    def _layer(self, row: Any, *, verify: bool, fresh: bool = False) -> Layer:
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------

    def _frame(self, rows: list[Any]) -> pd.DataFrame:
        records = []
        for r in rows:
            kind = canonical_kind(r["kind"])  # an old name (KIND_ALIASES) reads as its kind
            spec = KINDS.get(kind)  # a kind from a newer ecozone still lists
            records.append(
                {
                    "name": r["name"],
                    "kind": kind,
                    "label_zh": spec.label_zh if spec else kind,
                    "label_en": spec.label_en if spec else kind,
                    "version": int(r["version"]),
                    "row_count": int(r["row_count"]),
                    "synthetic": bool(r["synthetic"]),
                    "source": r["source"],
                    "source_date": r["source_date"],
                    "created_at": pd.Timestamp(r["created_at"]),
                    "checksum": r["checksum"],
                    "crs": r["crs"],
                    "source_crs": r["source_crs"],
                    "table": r["table_name"],
                }
            )
        return pd.DataFrame.from_records(records, columns=list(_COLUMNS))

    def list_layers(self) -> pd.DataFrame:
        """Return the latest version of every layer, without loading features.

        Returns
        -------
        DataFrame
            One row per layer name, sorted by name, with columns ``name, kind,
            label_zh, label_en, version, row_count, synthetic, source, source_date,
            created_at, checksum, crs, source_crs, table``.
        """
        return self._frame(self._latest_rows())

    def history(self, name: str) -> pd.DataFrame:
        """Return every version of one layer, oldest first (same columns as list_layers).

        Raises
        ------
        LayerNotFoundError
            If the store has no layer ``name``.
        """
        self._row(name, None)
        p = self._PARAM
        return self._frame(self._rows(f"WHERE name = {p} ORDER BY version", (name,)))

    def get(self, name: str, version: int | None = None, *, verify: bool = True) -> Layer:
        """Read one layer version (the latest by default) and verify its checksum.

        Parameters
        ----------
        name
            Layer name.
        version
            1-based version; ``None`` for the latest.
        verify
            Recompute the content checksum and compare it with the recorded one.

        Returns
        -------
        Layer

        Raises
        ------
        LayerNotFoundError
            If the name or version is not in the store (the message lists what is).
        ChecksumMismatchError
            If the stored features no longer match their checksum.
        """
        with self._metadata():  # the row and its extent over one connection
            row = self._row(name, version)
            ext = self._read_extent(row["name"], int(row["version"]))
        return self._with_extent(self._layer(row, verify=verify), ext)

    def get_kind(self, kind: str, version: int | None = None, *, verify: bool = True) -> Layer:
        """Read the latest layer of a kind: the most recent import among names of that kind.

        Parameters
        ----------
        kind
            A layer kind ("redline", ...).
        version
            A version of that same layer name instead of its latest.
        verify
            As in :meth:`get`.

        Returns
        -------
        Layer

        Raises
        ------
        MissingKindError
            If no layer of ``kind`` is stored (a LayerNotFoundError and a
            MissingLayerError).
        LayerValidationError
            If ``kind`` is not a registered kind.
        """
        spec = kind_info(kind)
        p = self._PARAM
        names = kind_aliases(spec.name)  # stores written before a kind was renamed
        marks = ", ".join([p] * len(names))
        with self._metadata():  # the rows and the extent over one connection
            rows = self._rows(f"WHERE kind IN ({marks}) ORDER BY id DESC LIMIT 1", names)
            if not rows:
                held = sorted({canonical_kind(r["kind"]) for r in self._latest_rows()})
                msg = (
                    f"图层库中没有{spec.label_zh}图层 / "
                    f"The store {self._where()} holds no {spec.label_zh} / {spec.label_en} "
                    f"layer (kind {spec.name!r}); it holds: {', '.join(held) or 'nothing'}. "
                    f"Import one with store.import_layer(..., kind={spec.name!r})."
                )
                raise MissingKindError(msg)
            # the name imported last, at its latest version (a restored copy may come late)
            row = self._row(rows[0]["name"], version)
            ext = self._read_extent(row["name"], int(row["version"]))
        return self._with_extent(self._layer(row, verify=verify), ext)

    def _metadata(self) -> contextlib.AbstractContextManager[Any]:
        """Several metadata reads over one connection (backend hook; default: no sharing)."""
        return contextlib.nullcontext()

    def _read_extent(self, name: str, version: int) -> dict[str, Any] | None:
        """The recorded extent of a version (backend hook; ``None``: none recorded)."""
        return None

    @staticmethod
    def _with_extent(layer: Layer, ext: dict[str, Any] | None) -> Layer:
        return layer if ext is None else dataclasses.replace(layer, extent=ext)

    def extent(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """The extent recorded for a layer version (the latest by default).

        Returns
        -------
        dict or None
            ``{"adcodes": [...]}`` or ``{"wkt": ...}`` (:mod:`layers.extent`); ``None``
            when the store records none (a check then computes the default).

        Raises
        ------
        LayerNotFoundError
            If the name or version is not in the store.
        """
        row = self._row(name, version)
        return self._read_extent(name, int(row["version"]))

    def verify(self) -> list[dict[str, Any]]:
        """Read every version of every layer and check its checksum.

        Returns
        -------
        list of dict
            One per version, oldest first within each layer: ``name``, ``version``,
            ``ok`` (bool) and ``problem`` (the error message, or ``None``).
        """
        from geo.errors import EcozoneError

        out: list[dict[str, Any]] = []
        for row in self._rows("ORDER BY name, version"):
            try:
                self._layer(row, verify=True, fresh=True)
                problem = None
            except EcozoneError as exc:
                problem = str(exc)
            out.append(
                {"name": row["name"], "version": int(row["version"]), "ok": problem is None,
                 "problem": problem}
            )  # fmt: skip
        return out

    def stamp(self) -> dict[str, dict[str, Any]]:
        """Return ``{name: {"version", "checksum"}}`` of the latest layers, for reports.

        Read from the recorded metadata; features are not loaded.
        """
        return {
            r["name"]: {"version": int(r["version"]), "checksum": r["checksum"]}
            for r in self._latest_rows()
        }

    def versions(self) -> dict[str, dict[str, Any]]:
        """Alias of :meth:`stamp` (the name used in docs/internals.md)."""
        return self.stamp()

    def export(
        self,
        name: str,
        path: str | os.PathLike[str],
        version: int | None = None,
        **write_options: Any,
    ) -> Path:
        """Write a layer version to a file with :func:`geo.io.write_vector`.

        The format follows the suffix (.gpkg, .geojson, .parquet, .shp, .csv, .gdb);
        ``write_options`` go to :func:`geo.io.write_vector` (``style=`` a QGIS style
        for a GeoPackage, ``aliases=`` for a File Geodatabase).

        Returns
        -------
        Path
            The written file.
        """
        from geo.io import write_vector
        from geo.io.writers import check_outputs

        store_file = getattr(self, "path", None)  # a file, or a server's URL (never hit)
        check_outputs({"layer store": store_file}, {"path (OUT)": path})
        layer = self.get(name, version)
        write_vector(layer.gdf, path, layer=name, **write_options)
        return Path(path)


class StoreBase(StoreReadAPI):
    """A layer store: the shared read API plus validated imports and restores.

    A backend implements :meth:`_write_version` (write one validated version
    atomically and return it as read back), and may override :meth:`_check_writable`.
    """

    # -- backend hooks ------------------------------------------------------------

    def _check_writable(self) -> None:
        """Raise a StoreError when the store cannot take a version (default: it can)."""

    def _write_version(
        self,
        clean: gpd.GeoDataFrame,
        *,
        name: str,
        kind: str,
        source: str,
        source_date: str | None,
        source_crs: str | None,
        version: int | None = None,
        created_at: datetime | None = None,
        expect_checksum: str | None = None,
        extent: dict[str, Any] | None = None,
    ) -> Layer:
        """Store a validated frame as a version of ``name``, atomically.

        ``version`` defaults to the next one and ``created_at`` to now;
        ``expect_checksum`` (a restore) is checked before anything is recorded.
        """
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------

    def _default_extent(self, clean: gpd.GeoDataFrame, kind: str) -> dict[str, Any] | None:
        """The extent of an import that gives none: the jurisdictions its features fall in."""
        if kind == "boundary":
            return None  # authoritative where its own polygons are
        try:
            boundary = self.get_kind("boundary", verify=False)
        except MissingKindError:
            return None
        return default_extent(clean, boundary)

    def import_layer(
        self,
        gdf_or_path: gpd.GeoDataFrame | str | os.PathLike[str],
        *,
        name: str,
        kind: str,
        source: str,
        source_date: str | date | None = None,
        synthetic: bool = False,
        read_kwargs: Mapping[str, Any] | None = None,
        extent: Any = None,
        force: bool = False,
    ) -> Layer:
        """Validate features and store them as the next version of layer ``name``.

        Parameters
        ----------
        gdf_or_path
            Features, or a file read with :func:`geo.io.read_vector`.
        name
            Layer name (lower-case letters, digits, underscores; e.g. "redline").
        kind
            Layer kind (:data:`layers.LAYER_KINDS`); fixed for all versions of a name.
        source
            The document or file the features come from.
        source_date
            Date of the source ("2021-12-30", "2021-12" or a date).
        synthetic
            Demonstration data: marks every feature synthetic.
        read_kwargs
            Options for :func:`geo.io.read_vector` when a path is given (``crs``,
            ``coords="gcj02"``, ``layer``, ``encoding``, ...).
        extent
            The area this version is authoritative for (:func:`layers.extent.parse_extent`:
            adcodes such as ``"110112,110115"``, or a lon/lat polygon); default: the
            jurisdictions of the store's boundary layer its features fall in.
        force
            Store features that lie outside the declared extent or far from every
            jurisdiction (:mod:`layers.sanity`: a likely wrong CRS or zone); the
            version's source records it.

        Returns
        -------
        Layer
            The stored version, features as read back from the store.

        Raises
        ------
        LayerValidationError
            If the features, name, kind or source are not acceptable (every
            problem listed), or ``name`` already holds another kind.
        StoreError
            If the store is read-only or the write fails; nothing is recorded then.
        """
        check_layer_name(name)
        spec = kind_info(kind)
        if not isinstance(source, str) or not source.strip():
            msg = (
                f"source={source!r}: name the document or file the layer comes from "
                "(e.g. '京政发〔2018〕18号' or 'redline_2023.shp')"
            )
            raise LayerValidationError(msg)
        source_date = norm_source_date(source_date)
        if isinstance(gdf_or_path, str | os.PathLike):
            from geo.io import read_vector

            gdf = read_vector(gdf_or_path, **dict(read_kwargs or {}))
        elif isinstance(gdf_or_path, gpd.GeoDataFrame):
            gdf = gdf_or_path
        else:
            msg = f"gdf_or_path should be a GeoDataFrame or a file path, got {type(gdf_or_path)}"
            raise LayerValidationError(msg)
        self._check_writable()
        source_crs = gdf.crs.to_string() if gdf.crs is not None else None
        ext = parse_extent(extent)
        clean, source = validated_import(
            self, gdf, name=name, kind=spec.name, source=source, synthetic=synthetic,
            declared=ext, force=force,
        )  # fmt: skip
        if ext is None:
            ext = self._default_extent(clean, spec.name)
        return self._write_version(
            clean, name=name, kind=spec.name, source=source, source_date=source_date,
            source_crs=source_crs, extent=ext,
        )  # fmt: skip

    def restore_version(self, layer: Layer) -> Layer:
        """Store a layer read from another store with its version number and provenance.

        Used by :func:`layers.copy.copy_layers`: the features are validated and
        written like :meth:`import_layer`, but the version keeps ``layer.version``,
        ``created_at``, ``source_crs``, its extent and the other metadata, and
        nothing is recorded unless the stored content has ``layer.checksum``.
        Versions may be restored in any order; the latest view shows the highest.

        Parameters
        ----------
        layer
            A layer read from a store (``version`` ≥ 1).

        Returns
        -------
        Layer
            The stored version, features as read back from this store.

        Raises
        ------
        StoreError
            If this store already holds that version of the layer, or is read-only.
        ChecksumMismatchError
            If the stored content would not have the layer's checksum (nothing is stored).
        LayerValidationError
            If the features are not valid, or the name holds another kind here.
        """
        check_layer_name(layer.name)
        kind, clean = restorable(layer)
        self._check_writable()
        return self._write_version(
            clean, name=layer.name, kind=kind, source=layer.source,
            source_date=layer.source_date, source_crs=layer.source_crs,
            version=int(layer.version), created_at=layer.created_at,
            expect_checksum=layer.checksum, extent=layer.extent,
        )  # fmt: skip
