"""Batch checks from an uploaded table, and spreadsheet-safe CSV exports.

The batch itself is :func:`zoning.check.batch.run_batch`; this module chooses the files it
writes (inside the request's private folder), makes the CSVs safe to open in Excel
or WPS, and packs the answer.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula,
so a site named ``=HYPERLINK(...)`` could act when the results are opened: every
text cell goes through :func:`geo.io.spreadsheet.neutralise_formulas` (a ``'`` in
front; plain numbers such as ``-12.5`` are left alone).
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from ecozone.web.errors import ApiError
from geo.errors import InputFormatError
from geo.io.spreadsheet import write_csv

__all__ = ["results_map", "run_batch_file"]

#: Most sites drawn on the page map after a batch (all are in the results file).
MAP_LIMIT = 5000

#: Largest results file a JSON answer carries (base64); larger ones go in a zip. A
#: 20 MB CSV of 425 000 points gives a 302 MB results CSV: its base64 and JSON copies
#: passed a worker's 2 GB and were answered 413 "needs more memory".
JSON_RESULTS_MB = 64.0


def _safe_csv(src: Path, dst: Path) -> pd.DataFrame:
    """Rewrite a CSV with every text cell neutralised; returns the frame (all text)."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    write_csv(df, dst)
    return df


def results_map(sites: Any, *, limit: int = MAP_LIMIT) -> dict[str, Any]:
    """The checked sites as GeoJSON for the page map: verdict and rules, first ``limit``.

    Parameters
    ----------
    sites
        :attr:`zoning.check.batch.BatchSummary.sites` (WGS84).
    limit
        Most features sent; the rest stay in the results file.

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "features": [...], "truncated": bool}``.
    """
    import json

    import shapely

    if sites is None or not len(sites):
        return {"type": "FeatureCollection", "features": [], "truncated": False}
    shown = sites.iloc[:limit]
    geoms = shapely.to_geojson(shapely.set_precision(shown.geometry.to_numpy(), 1e-6))
    cols = [c for c in ("site_id", "verdict", "verdict_zh", "deciding_rules", "rules")
            if c in shown.columns]  # fmt: skip
    props = shown[cols].astype(str).to_dict(orient="records")
    features = [
        {"type": "Feature", "geometry": json.loads(g), "properties": p}
        for g, p in zip(geoms, props, strict=True)
        if g is not None
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": len(sites) > limit}


def run_batch_file(
    entry: Any,
    path: Path,
    folder: Path,
    *,
    fmt: str,
    read_options: dict[str, Any],
    label: str,
    output: str = "json",
) -> tuple[bytes | dict[str, Any], str]:
    """Check every site of an uploaded file and pack the results (runs in a thread).

    Parameters
    ----------
    entry
        The pack's :class:`ecozone.web.checks.PackEntry` (its layers are reused).
    path
        The vetted upload.
    folder
        The request's private folder (outputs go there).
    fmt
        "csv", "gpkg" or "xlsx" (sites, findings and errors sheets) for the results.
    read_options
        Passed to :func:`geo.io.read_vector` (``coords``, ``zone``).
    label
        The user's file name, for the summary.
    output
        "json": a dict with the summary, the error rows and the results file in
        base64; "zip": the results file, ``errors.csv`` and ``summary.json`` zipped.

    Returns
    -------
    (bytes or dict, str)
        The answer and the results file name.
    """
    from maps.qgis_style import write_options as qgis_write_options
    from zoning.check.batch import run_batch

    raw_out = folder / f"raw_results.{fmt}"
    raw_err = folder / "raw_errors.csv"
    summary = run_batch(
        path,
        pack=entry.pack,
        store_or_layers=entry.layers,
        out=raw_out,
        errors_out=raw_err,
        read_options=read_options,
        missing_layers="skip",
        write_options=qgis_write_options,  # a GeoPackage opens in QGIS with verdict colours
    )
    if summary.total == 0:
        msg = f"{label}: 没有场址 / the file holds no site (0 features or rows); none was checked"
        raise InputFormatError(msg)
    name = f"results.{fmt}"
    result_path = folder / name
    # a CSV is formula-safe as the batch writes it (ChunkWriter neutralises text cells):
    # read back and written again it was the same bytes, for 4.9 s and about 1 GB at
    # 425 000 sites
    raw_out.rename(result_path)
    errors = _safe_csv(raw_err, folder / "errors.csv")
    info = summary.to_dict()
    info.pop("out", None)
    info.pop("errors_out", None)
    info["file"] = label
    info["pack"] = entry.name
    info["results_file"] = name
    info["skipped_rules"] = list(summary.stamp.get("skipped_rules", []))
    records = errors.to_dict(orient="records")
    if output == "zip":
        import json

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(result_path, name)
            zf.write(folder / "errors.csv", "errors.csv")
            zf.writestr(
                "summary.json",
                json.dumps({"summary": info, "stamp": summary.stamp}, ensure_ascii=False, indent=2,
                           default=str),
            )  # fmt: skip
        return buf.getvalue(), name
    size_mb = result_path.stat().st_size / 2**20
    if size_mb > JSON_RESULTS_MB:
        msg = (
            f"{label}: 结果文件 {size_mb:.0f} MB，超过 JSON 答复可携带的 {JSON_RESULTS_MB:.0f} MB，"
            f"请以 output=zip 取回，或分成较小的文件 / the results file is {size_mb:.0f} MB, more "
            f"than a JSON answer carries ({JSON_RESULTS_MB:.0f} MB): ask for output=zip, or "
            "split the sites into smaller files."
        )
        raise ApiError(413, "too_large", msg)
    answer_map = results_map(summary.sites)
    media = {
        "csv": "text/csv; charset=utf-8",
        "gpkg": "application/geopackage+sqlite3",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]
    return {
        "summary": info,
        "map": answer_map,
        "errors": records,
        "results": {
            "filename": name,
            "media_type": media,
            "content_base64": base64.b64encode(result_path.read_bytes()).decode("ascii"),
        },
    }, name
