"""Each interface's answer for a scenario, in one comparable form.

An answer is a dict: ``{"error": code}`` for a site that was not checked (a single
site raising OutsideJurisdictionError, a batch row in the errors, a 4xx), else
``{"verdict", "deciding" (sorted tuple), "rules" (sorted tuple of fired rule ids),
"access" (sorted tuple of (unit_code, text, judgement)) }``. Interfaces that do not
carry a part (the batch file has no access-list judgements unless it grows a column)
leave it ``None`` and the comparison skips it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from zoning.project import Project

OUTSIDE = "outside_jurisdiction"


def is_outside(text: Any) -> bool:
    """Whether an error text / code says the site is outside the pack's jurisdiction."""
    t = str(text).lower()
    return OUTSIDE in t or "jurisdiction" in t or "管辖范围" in t or "辖区范围" in t


def error_answer(reason: Any) -> dict[str, Any]:
    return {"error": OUTSIDE if is_outside(reason) else f"other: {reason}"}


def _access_of(findings: list[dict[str, Any]]) -> tuple[tuple[str, str, str], ...]:
    out = []
    for f in findings:
        for e in f.get("access_entries") or []:
            out.append((str(e.get("unit_code")), str(e.get("text")), str(e.get("judgement"))))
    return tuple(sorted(out))


def _outcomes_of(findings: list[dict[str, Any]]) -> tuple[tuple[str, str], ...] | None:
    if not findings or any("outcome" not in f for f in findings):
        return None if findings else ()
    return tuple(sorted((str(f["rule_id"]), str(f["outcome"])) for f in findings))


def _exceptions_of(findings: list[dict[str, Any]]) -> tuple[str, ...] | None:
    if findings and all("exceptions" not in f for f in findings):
        return None  # an interface that does not report them
    return tuple(sorted(str(e.get("id")) for f in findings for e in f.get("exceptions") or []))


def _notes_of(d: dict[str, Any]) -> tuple[str, ...] | None:
    """The kinds of a result's notes (``None``: the interface gives no notes)."""
    notes = d.get("notes")
    if notes is None:
        return None
    # typed notes ({"kind", "text", "text_en"}); untyped text an interface adds is skipped
    return tuple(sorted({str(n["kind"]) for n in notes if isinstance(n, dict) and "kind" in n}))


def _flags_of(kinds: tuple[str, ...] | None) -> dict[str, bool | None]:
    """Whether the result says it straddles the jurisdiction / relied on demo data."""
    if kinds is None:
        return {"straddles": None, "demo": None}
    return {"straddles": "jurisdiction" in kinds, "demo": "demo_data" in kinds}


def from_site_dict(d: dict[str, Any]) -> dict[str, Any]:
    """Answer of a ``CheckResult.site_to_dict`` (Python API, CLI --json)."""
    return {
        "verdict": d["verdict"],
        "deciding": tuple(sorted(d["deciding_rules"])),
        "rules": tuple(sorted(f["rule_id"] for f in d["findings"])),
        "outcomes": _outcomes_of(d["findings"]),
        "exceptions": _exceptions_of(d["findings"]),
        "access": _access_of(d["findings"]),
        "notes": _notes_of(d),
        **_flags_of(_notes_of(d)),
        "_findings": d["findings"],
    }


def from_result(res: Any, site_id: str) -> dict[str, Any]:
    """Answer of one site of a CheckResult (checked, or in its errors)."""
    ids = res.sites["site_id"].astype(str).tolist()
    if site_id in ids:
        return from_site_dict(res.site_to_dict(site_id))
    err = res.errors[res.errors["site_id"].astype(str) == site_id]
    if len(err):
        row = err.iloc[0]
        return error_answer(" ".join(str(row.get(c, "")) for c in ("status", "reason")))
    return {"error": "missing"}


def from_report(rep: dict[str, Any]) -> dict[str, Any]:
    """Answer of a report (REST ``POST /api/check``)."""
    v = rep["verdict"]
    return {
        "verdict": v["code"],
        "deciding": tuple(sorted(v.get("deciding_rules") or [])),
        "rules": tuple(sorted(f["rule_id"] for f in rep["findings"])),
        "outcomes": _outcomes_of(rep["findings"]),
        "exceptions": _exceptions_of(rep["findings"]),
        "access": _access_of(rep["findings"]),
        "notes": _notes_of(rep),
        **_flags_of(_notes_of(rep)),
    }


def from_batch_row(row: pd.Series) -> dict[str, Any]:
    """Answer of a row of the batch output (``ecozone check FILE --out x.csv``)."""

    def ids(v: Any) -> tuple[str, ...]:
        return tuple(sorted(x for x in ("" if pd.isna(v) else str(v)).split(";") if x))

    def flag(col: str) -> bool | None:
        if col not in row.index:
            return None
        v = row[col]
        if col == "demo_data":  # the synthetic layers relied on, ";"-joined
            return bool(ids(v))
        return str(v).strip().lower() in ("true", "1", "yes")

    return {
        "verdict": str(row["verdict"]),
        "deciding": ids(row["deciding_rules"]),
        "rules": ids(row["rules"]),
        "access": None,
        "straddles": flag("straddles_jurisdiction"),
        "demo": flag("demo_data"),
    }


def same(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The parts where two answers differ (parts one side lacks are skipped)."""
    diffs = []
    for k in sorted(set(a) | set(b)):
        if k.startswith("_"):
            continue
        va, vb = a.get(k), b.get(k)
        if va is None or vb is None:
            if k == "error" and (va is not None or vb is not None):
                diffs.append(f"{k}: {va!r} != {vb!r}")
            continue
        if va != vb:
            diffs.append(f"{k}: {va!r} != {vb!r}")
    return diffs


# --------------------------------------------------------------------------- projects

_PROJECT_FIELDS = {f.name for f in dataclasses.fields(Project)}


class Unsupported(Exception):
    """The scenario's project uses an attribute the engine does not have yet."""


def activity_field() -> str | None:
    """Name of the project's declared-activity field, when the engine has one."""
    for name in ("activity", "activities", "declared_activity"):
        if name in _PROJECT_FIELDS:
            return name
    return None


def project_kwargs(spec: dict[str, Any], exits: list[tuple[float, float]]) -> dict[str, Any]:
    """Keyword arguments of :class:`Project` for a scenario's project table."""
    kw = {k: v for k, v in spec.items() if k not in ("exits_m", "activity")}
    if "flags" in kw:
        kw["flags"] = frozenset(kw["flags"])
    if exits:
        kw["exits"] = tuple(exits)
    if spec.get("activity"):
        fld = activity_field()
        if fld is None:
            raise Unsupported("awaiting the project's declared-activity field (§3)")
        act = spec["activity"]
        kw[fld] = (act,) if fld == "activities" else act
    unknown = set(kw) - _PROJECT_FIELDS
    if unknown:
        raise Unsupported(f"Project has no field(s) {sorted(unknown)}")
    return kw


def project_row(spec: dict[str, Any], exits: list[tuple[float, float]]) -> dict[str, Any]:
    """The project as batch-file columns (as ``zoning.project.project_from_row`` reads)."""
    kw = project_kwargs(spec, exits)
    row: dict[str, Any] = {
        "project_type": kw.get("project_type") or "",
        "industry_code": kw.get("industry_code") or "",
        "flags": ";".join(sorted(kw.get("flags", ()))),
        "development": kw.get("development", "new"),
        "temporary_land_use": bool(kw.get("temporary_land_use", False)),
        "water_supply": bool(kw.get("water_supply", False)),
        "exits": "; ".join(f"{x:.9f},{y:.9f}" for x, y in exits),
    }
    fld = activity_field()
    if fld and fld in kw:
        v = kw[fld]
        row[fld] = ";".join(v) if isinstance(v, tuple) else v
    return row


def rest_project(spec: dict[str, Any], exits: list[tuple[float, float]]) -> dict[str, Any]:
    """The project as the REST API's ``project`` body."""
    kw = project_kwargs(spec, exits)
    body: dict[str, Any] = {k: v for k, v in kw.items() if k not in ("exits", "flags")}
    body["flags"] = sorted(kw.get("flags", ()))
    if exits:
        body["exits"] = [[x, y] for x, y in exits]
    fld = activity_field()
    if fld and fld in kw and isinstance(kw[fld], tuple):
        body[fld] = list(kw[fld])
    return body


def cli_options(spec: dict[str, Any], exits: list[tuple[float, float]]) -> list[str]:
    """The project as ``ecozone check`` options."""
    kw = project_kwargs(spec, exits)
    opts: list[str] = []
    if kw.get("project_type"):
        opts += ["--project-type", kw["project_type"]]
    if kw.get("industry_code"):
        opts += ["--industry", kw["industry_code"]]
    for f in sorted(kw.get("flags", ())):
        opts += ["--flag", f]
    if kw.get("development"):
        opts += ["--development", kw["development"]]
    if kw.get("temporary_land_use"):
        opts.append("--temporary-land-use")
    if kw.get("water_supply"):
        opts.append("--water-supply")
    for x, y in exits:
        opts += ["--exit", f"{x:.9f},{y:.9f}"]
    fld = activity_field()
    if fld and fld in kw:
        v = kw[fld]
        for a in v if isinstance(v, tuple) else (v,):
            opts += ["--activity", a]
    return opts
