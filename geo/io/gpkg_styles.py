"""QGIS layer styles stored inside a GeoPackage (the ``layer_styles`` table).

QGIS keeps a layer's style in the GeoPackage itself, in a table ``layer_styles``
(columns as QGIS creates them). A row with ``useAsDefault`` true is applied when
the layer is opened, so a GeoPackage written with a style opens drawn, not grey.

This module only stores and reads styles; what a style looks like (the QML and SLD
text) is decided by ``maps.qgis_style``, which owns the colours. Writers in
``geo.io`` accept a :class:`QgisStyle` and call :func:`write_layer_styles` on the
temporary file before it is renamed into place, so a styled write stays atomic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["QgisStyle", "read_layer_styles", "write_layer_styles"]

_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


@dataclass(frozen=True)
class QgisStyle:
    """A QGIS style for one layer, as stored in ``layer_styles``.

    Attributes
    ----------
    name : str
        Style name shown in QGIS's style manager (e.g. "ecozone 结论").
    qml : str
        The QGIS style document (``<qgis>`` XML).
    sld : str
        The same style as OGC SLD 1.1 (for other clients; may be empty).
    description : str
        Free text stored with the style.
    """

    name: str
    qml: str
    sld: str = ""
    description: str = ""


def _geometry_column(con: sqlite3.Connection, table: str) -> str:
    try:
        row = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
    except sqlite3.OperationalError:  # not a GeoPackage (yet)
        row = None
    return str(row[0]) if row else "geom"


def write_layer_styles(
    path_or_con: str | Path | sqlite3.Connection,
    styles: Iterable[tuple[str, QgisStyle]],
) -> int:
    """Store default QGIS styles for layers of a GeoPackage, in one transaction.

    Any earlier default style of the same layer stops being the default (it is kept,
    so a user's own saved styles survive; an earlier ecozone style of the same name
    is replaced).

    Parameters
    ----------
    path_or_con
        The GeoPackage file, or an open connection (the caller commits).
    styles
        ``(layer name, style)`` pairs.

    Returns
    -------
    int
        Number of styles written.
    """
    own = not isinstance(path_or_con, sqlite3.Connection)
    con = sqlite3.connect(str(path_or_con)) if own else path_or_con
    n = 0
    try:
        con.execute(_CREATE)
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "gpkg_contents" in have:  # list the table the way QGIS does (an attributes table)
            con.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
                "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
            )
        for table, style in styles:
            geom = _geometry_column(con, table)
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (table,))
            con.execute(
                "DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?",
                (table, style.name),
            )
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'ecozone', '')",
                (table, geom, style.name, style.qml, style.sld, style.description),
            )
            n += 1
        if own:
            con.commit()
    finally:
        if own:
            con.close()
    return n


def read_layer_styles(path: str | Path) -> dict[str, QgisStyle]:
    """Return the default style of each layer of a GeoPackage (empty without styles)."""
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        try:
            rows = con.execute(
                "SELECT f_table_name, styleName, styleQML, styleSLD, description "
                "FROM layer_styles WHERE useAsDefault ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
    finally:
        con.close()
    return {t: QgisStyle(n, q or "", s or "", d or "") for t, n, q, s, d in rows}
