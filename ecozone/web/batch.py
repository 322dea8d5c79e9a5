"""Batch checks from an uploaded table, and spreadsheet-safe CSV exports.

The batch itself is :func:`zoning.batch.run_batch`; this module chooses the files it
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

from geo.io.spreadsheet import write_csv

__all__ = ["run_batch_file"]


def _safe_csv(src: Path, dst: Path) -> pd.DataFrame:
    """Rewrite a CSV with every text cell neutralised; returns the frame (all text)."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    write_csv(df, dst)
    return df


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
        "csv" or "gpkg" for the results file.
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
    from zoning.batch import run_batch

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
    )
    name = f"results.{fmt}"
    result_path = folder / name
    if fmt == "csv":
        _safe_csv(raw_out, result_path)
    else:
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
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/geopackage+sqlite3"
    return {
        "summary": info,
        "errors": records,
        "results": {
            "filename": name,
            "media_type": media,
            "content_base64": base64.b64encode(result_path.read_bytes()).decode("ascii"),
        },
    }, name
