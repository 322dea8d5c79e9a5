"""``ecozone check --report``: one report, or one per site (``--each``) with an index.

Thin glue: the project comes from the feature's attributes with the options on top
(:func:`zoning.report.project.project_from_input`), the check from the engine, the
report from :mod:`zoning.report.build`, the map from :mod:`maps.sitemap`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

#: Project field → the option that sets it (named in the report's note).
OPTION_NAMES = {
    "name": "--name",
    "project_type": "--project-type",
    "industry_code": "--industry-code",
    "flags": "--flag",
    "development": "--development",
    "temporary_land_use": "--temporary-land-use",
    "water_supply": "--water-supply",
    "activity": "--activity",
    "exits": "--exit",
}


def _row(one: Any) -> dict[str, Any]:
    row = one.iloc[0]
    return {k: row[k] for k in one.columns if k != one.geometry.name}


def read_notes(issues: list[dict[str, Any]], one: Any) -> list[dict[str, str]]:
    """The reader's repairs of this feature (``gdf.attrs["issues"]``) as report notes."""
    rows = set(one["source_row"].astype(int).tolist()) if "source_row" in one else set()
    out = []
    for issue in issues or ():
        if issue.get("action") != "repaired" or (rows and issue.get("row") not in rows):
            continue
        reason = str(issue.get("reason", ""))
        zh, _, en = reason.partition(" / ")
        out.append(
            {
                "kind": "repair",
                "text": f"输入要素第{issue.get('row')}个已修复：{zh or reason}。请核对修复后的范围",
                "text_en": f"input feature {issue.get('row')} was repaired: {en or reason}. "
                "Verify the repaired outline",
            }
        )
    return out


def report_one(
    checker: Any,
    one: Any,
    *,
    options: dict[str, Any],
    issues: list[dict[str, Any]] | None = None,
    outdir: Path,
    lang: str,
    map_page: str,
    input_system: str | None,
    where: str,
) -> tuple[Any, dict[str, Any], dict[str, Path]]:
    """Check one feature (a one-row GeoDataFrame) and write its report to ``outdir``."""
    from ecozone.workflows import write_site_report
    from zoning.report.project import project_from_input

    project, sources, note = project_from_input(
        _row(one), options=options, option_names=OPTION_NAMES, where=where
    )
    result = checker.check(one, project=project, input_system=input_system)
    if len(result.sites) == 0:
        from geo.errors import OutsideJurisdictionError

        reasons = "; ".join(result.errors["reason"].astype(str).head(5))
        if "status" in result.errors and (result.errors["status"] == "outside_jurisdiction").all():
            raise OutsideJurisdictionError(f"{where}: {reasons}")  # not a verdict
        raise click.ClickException(f"{where}: cannot be checked: {reasons}")
    written = write_site_report(
        checker,
        result,
        outdir,
        project=project,
        lang=lang,
        map_page=map_page,
        pack=checker.pack,
        notes=[*read_notes(issues or [], one), *([note] if note else [])],
        attribute_sources=sources,
    )
    return result, written.report, written.files


def _folder_name(number: int, site_id: Any) -> str:
    safe = re.sub(r"[^\w\-]+", "_", str(site_id), flags=re.UNICODE).strip("_")[:40]
    return f"{number:03d}_{safe}" if safe else f"{number:03d}"


def report_each(
    checker: Any,
    gdf: Any,
    *,
    options: dict[str, Any],
    outdir: Path,
    lang: str,
    map_page: str,
    input_system: str | None,
    source_name: str,
) -> list[dict[str, Any]]:
    """One report per feature in numbered folders, and ``index.csv`` / ``index.html``.

    A feature that cannot be checked is listed in the index with the reason; the
    others go on.
    """
    import html

    import pandas as pd

    from geo.io.spreadsheet import write_csv

    outdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    zh = lang == "zh"
    for i in range(len(gdf)):
        one = gdf.iloc[[i]]
        site_id = one["site_id"].iloc[0] if "site_id" in one else i + 1
        folder = _folder_name(i + 1, site_id)
        where = f"{source_name} feature {i + 1}"
        try:
            _, report, _ = report_one(
                checker, one, options=options, issues=gdf.attrs.get("issues"),
                outdir=outdir / folder, lang=lang,
                map_page=map_page, input_system=input_system, where=where,
            )  # fmt: skip
        except (click.ClickException, ValueError) as exc:
            msg = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            rows.append({"no": i + 1, "site_id": str(site_id), "name": "", "verdict": "error",
                         "verdict_label": msg, "folder": ""})  # fmt: skip
            continue
        rows.append(
            {
                "no": i + 1,
                "site_id": str(report["site"]["site_id"]),
                "name": (report.get("project") or {}).get("name") or "",
                "verdict": report["verdict"]["code"],
                "verdict_label": report["verdict"]["label_zh" if zh else "label_en"],
                "folder": folder,
            }
        )
    heads = ["序号", "场址编号", "项目名称", "结论代码", "结论", "报告文件夹"]
    if not zh:
        heads = ["No.", "Site", "Project", "Verdict code", "Verdict", "Report folder"]
    table = pd.DataFrame(rows, columns=["no", "site_id", "name", "verdict", "verdict_label",
                                        "folder"])  # fmt: skip
    table.columns = heads
    write_csv(table, outdir / "index.csv")
    title = "场址报告索引" if zh else "Site reports"
    body = "".join(
        "<tr>" + "".join(
            f"<td>{html.escape(str(r[k]))}</td>" for k in ("no", "site_id", "name", "verdict_label")
        ) + (f'<td><a href="{html.escape(r["folder"])}/report.html">{html.escape(r["folder"])}</a>'
             "</td>" if r["folder"] else "<td>—</td>") + "</tr>"
        for r in rows
    )  # fmt: skip
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (*heads[:3], heads[4], heads[5]))
    page = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif}}table{{border-collapse:"
        f"collapse}}td,th{{border:1px solid #999;padding:.2rem .5rem}}</style></head><body>"
        f"<h1>{title}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>"
    )
    (outdir / "index.html").write_text(page, encoding="utf-8")
    return rows
