"""Pieces shared by the report builder and its renderers (HTML, DOCX).

The schema name, geometry-type words, what-was-measured wording, layer-kind labels,
the notes of a report and the atomic file write: :mod:`zoning.report.build`,
:mod:`zoning.report.html` and :mod:`zoning.report.docx` import them from here, so the
renderers do not import the builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from geo.io.atomic import replacing_file
from zoning.report.text import NOTE_KINDS, label, pick

__all__ = ["SCHEMA", "report_notes"]

SCHEMA = "ecozone.report/1"
_GEOM_TYPES = {
    "Point": ("点", "point"), "MultiPoint": ("多点", "points"), "LineString": ("线", "line"),
    "MultiLineString": ("多线", "lines"), "Polygon": ("面", "polygon"),
    "MultiPolygon": ("多面", "polygons"), "GeometryCollection": ("几何集合", "geometries"),
}  # fmt: skip


def _fmt_num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _measured(f: Mapping[str, Any], lang: str) -> list[str]:
    """What was measured for a finding, in words."""
    out = []
    if (f.get("overlap_m2") or 0) > 0:
        pct = f.get("overlap_pct")
        share = f"，{label('of_site', lang)} {pct:.2f}%" if pct is not None else ""
        if lang == "en":
            share = f", {pct:.2f}% {label('of_site', lang)}" if pct is not None else ""
        out.append(f"{label('overlap', lang)} {_fmt_num(f['overlap_m2'])} m²{share}")
    elif f.get("distance_m") is not None:
        out.append(f"{label('distance', lang)} {_fmt_num(f['distance_m'])} m")
    for key, value in f.items():  # lengths of a line inside a zone (any *length*_m field)
        if "length" in key and key.endswith("_m") and isinstance(value, int | float) and value:
            text = f"{label('inside_length', lang)} {_fmt_num(float(value))} m"
            pct = f.get(key[:-2] + "_pct")
            if isinstance(pct, int | float):
                text += f"，{label('of_line', lang)} {pct:.2f}%" if lang == "zh" else \
                    f", {pct:.2f}% {label('of_line', lang)}"  # fmt: skip
            out.append(text)
    return out


def _kind_label(kind: str, lang: str, pack: Any = None) -> str:
    if pack is not None and hasattr(pack, "kind_label"):
        return str(pack.kind_label(kind, lang))  # a zone the pack names ([zones.KIND])
    try:
        from layers import kind_info

        info = kind_info(kind)
    except Exception:  # an unregistered kind: its code
        return kind
    return info.label_zh if lang == "zh" else info.label_en


def _normalise_note(n: Any) -> dict[str, Any]:
    """A note as ``{"kind", "text", "text_en"}``, with its ``asks`` if it has any.

    Plain strings become kind "input".
    """
    if isinstance(n, Mapping):
        text = str(n.get("text") or n.get("text_en") or "")
        out: dict[str, Any] = {"kind": str(n.get("kind") or "input"), "text": text,
                               "text_en": str(n.get("text_en") or text)}  # fmt: skip
        if n.get("asks"):  # what it asks the user for (zoning.check.notes.ASKS)
            out["asks"] = [str(a) for a in n["asks"]]
        return out
    text = str(n)
    if " / " in text:  # "中文 / English" (the web app's notes)
        zh, en = text.split(" / ", 1)
        return {"kind": "input", "text": zh.strip(), "text_en": en.strip()}
    return {"kind": "input", "text": text, "text_en": text}


def report_notes(report: Mapping[str, Any], lang: str = "zh") -> list[dict[str, Any]]:
    """The notes of a report in one language: ``{"kind", "kind_label", "text"}`` each.

    A note that asks for something keeps its ``asks`` (each interface says where to give
    it). Every renderer lists these (HTML, DOCX, PDF, the web page): repairs, assumptions,
    demonstration data, missing data, jurisdiction, exceptions, coordinates, and notes
    added after the build (plain strings are accepted).
    """
    out = []
    for n in report.get("notes") or ():
        n = _normalise_note(n)
        one = {
            "kind": n["kind"],
            "kind_label": pick(NOTE_KINDS.get(n["kind"]), lang, n["kind"]),
            "text": n["text"] if lang == "zh" else n["text_en"],
        }
        if n.get("asks"):
            one["asks"] = n["asks"]
        out.append(one)
    return out


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename: no half-written report."""
    with replacing_file(path) as tmp:
        tmp.write_bytes(data)
