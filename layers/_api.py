"""The read side of a layer store, shared by the GeoPackage and PostGIS backends.

A backend gives the metadata rows (``_rows``, ``_latest_rows``, ``_row``), turns a
row into a :class:`~layers.layer.Layer` (``_layer``), names itself (``_where``) and
sets its SQL parameter marker (``_PARAM``); listing, history, reading by name or
kind, stamps and export are written once here, and so are the checks both stores
make before restoring a copied version (:func:`restorable`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import LayerNotFoundError, LayerValidationError, MissingLayerError
from layers.kinds import KINDS, kind_info, validate_layer
from layers.layer import Layer


class MissingKindError(LayerNotFoundError, MissingLayerError):
    """The store holds no layer of the requested kind (catch either parent)."""


def restorable(layer: Layer) -> tuple[str, gpd.GeoDataFrame]:
    """Check a layer read from another store before ``restore_version`` writes it.

    The store checks the name first (``layers.store.check_layer_name``).

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
            spec = KINDS.get(r["kind"])  # a kind from a newer ecozone still lists
            records.append(
                {
                    "name": r["name"],
                    "kind": r["kind"],
                    "label_zh": spec.label_zh if spec else r["kind"],
                    "label_en": spec.label_en if spec else r["kind"],
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
        return self._with_extent(self._layer(self._row(name, version), verify=verify))

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
        rows = self._rows(f"WHERE kind = {p} ORDER BY id DESC LIMIT 1", (spec.name,))
        if not rows:
            held = sorted({r["kind"] for r in self._latest_rows()})
            msg = (
                f"图层库中没有{spec.label_zh}图层 / "
                f"The store {self._where()} holds no {spec.label_zh} / {spec.label_en} layer "
                f"(kind {spec.name!r}); it holds: {', '.join(held) or 'nothing'}. Import one "
                f"with store.import_layer(..., kind={spec.name!r})."
            )
            raise MissingKindError(msg)
        # the name imported last, at its latest version (a restored copy may come late)
        return self._with_extent(
            self._layer(self._row(rows[0]["name"], version), verify=verify)
        )

    def _read_extent(self, name: str, version: int) -> dict[str, Any] | None:
        """The recorded extent of a version (backend hook; ``None``: none recorded)."""
        return None

    def _with_extent(self, layer: Layer) -> Layer:
        ext = self._read_extent(layer.name, int(layer.version))
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

        layer = self.get(name, version)
        write_vector(layer.gdf, path, layer=name, **write_options)
        return Path(path)
