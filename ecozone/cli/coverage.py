"""``ecozone coverage`` and ``ecozone gaps``: plan targets measured, and where they fall short."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table, progress_bar
from ecozone.cli.options import json_opt, pack_opt, store_opt
from zoning.coverage.registry import METRICS


def _fmt(value, digits: int = 2) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}"


def _mark(r) -> str:
    """Status text of a result: worded for binding vs aspirational targets."""
    if r.status == "met":
        return f"✓ {r.status_zh}"
    if r.status == "unmet":
        return f"✗ {r.status_zh}"
    return r.status_zh


def _population(value: str | None):
    """--population: a number, a population table (.csv) or a population raster."""
    if not value:
        return None
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        number = None
    if number is not None:
        if not number > 0:
            raise click.BadParameter(
                f"{value!r}: the population must be a positive number of residents",
                param_hint="--population",
            )
        return number
    if not Path(value).exists():
        raise click.BadParameter(
            f"{value!r}: give a number of residents, a population table (.csv with "
            "adcode,name,population,year,source) or a population GeoTIFF",
            param_hint="--population",
        )
    return value


@click.command()
@pack_opt
@click.option(
    "--by",
    type=click.Choice(["district", "none"]),
    default="district",
    show_default=True,
    help="Per-district contributions (分区贡献; never judged against a municipal target).",
)
@click.option(
    "--jurisdiction",
    default=None,
    help="Adcode of a boundary feature (6 digits) or a polygon file, instead of the pack's "
    "jurisdiction; "
    "targets set for a larger area are then measured as its contribution.",
)
@click.option(
    "--landcover",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Land-cover GeoTIFF for forest coverage (森林覆盖率).",
)
@click.option(
    "--population",
    default=None,
    help="Population for 人均公园绿地: a population table (.csv: adcode,name,population,"
    "year,source), a number of residents or a population GeoTIFF. Default: the bundled "
    "table data/population.csv (Beijing, 2020 census).",
)
@click.option(
    "--network",
    type=click.Path(exists=True, path_type=Path),
    help="Walking network lines: park radius measured along it.",
)
@click.option(
    "--scope",
    "scope_files",
    multiple=True,
    metavar="NAME=FILE",
    help="Area of a scope the pack declares, e.g. plains=FILE (平原地区), sub_centre=FILE, "
    "built_up=FILE.",
)
@click.option(
    "--method",
    type=click.Choice(["vector", "raster"]),
    default="vector",
    show_default=True,
    help="Park coverage method.",
)
@click.option(
    "--metric",
    "metric_names",
    multiple=True,
    type=click.Choice(sorted(METRICS)),
    help="Measure only the pack's targets of this metric (repeatable; default all): "
    + "; ".join(f"{m.name} {m.label}" for m in METRICS.values())
    + ".",
)
@click.option(
    "--judge-partial",
    is_flag=True,
    help="Judge a figure built from part of the districts (by default: 部分数据，未判定).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table: .csv (UTF-8 with BOM), .xlsx or .docx (A4): the wide Chinese "
    "table (指标/范围/现状值/目标/目标性质/是否达标/差距/依据); .json: the long "
    "machine-readable records.",
)
@click.option(
    "--format",
    "table_format",
    type=click.Choice(["wide", "long"]),
    default="wide",
    show_default=True,
    help="For --out .csv: wide (one row per target and district) or long (the machine "
    "table, districts in <stem>.districts.csv).",
)
@store_opt
@json_opt
@handle_errors
def coverage(
    pack,
    by,
    jurisdiction,
    landcover,
    population,
    network,
    scope_files,
    method,
    metric_names,
    judge_partial,
    out,
    table_format,
    store,
    as_json,
) -> None:
    """Measure every spatial target of a pack at its own scope (目标达标评估).

    A target is judged only for the area its plan sets it for (Beijing's 26.1 % red
    line for the municipality); districts show their contribution (贡献), never
    "未达标" against a municipal value. Aspirations (力争) read 未达到力争目标. Where an
    input is missing the target reads 无数据 with the import command.
    """
    from geo.io import read_vector
    from geo.io.writers import check_outputs
    from layers import open_store
    from zoning.coverage.measure import measure_targets
    from zoning.pack import load_pack

    p = load_pack(pack)
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx", ".docx", ".json"):
        raise click.BadParameter(f"{out}: use .csv, .xlsx, .docx or .json", param_hint="--out")
    inputs = {"--jurisdiction": jurisdiction, "--landcover": landcover, "--network": network,
              "--population": population}  # fmt: skip
    inputs.update({f"--scope {item}": item.partition("=")[2] for item in scope_files})
    # (--jurisdiction may be an adcode, --population a number: only files are inputs)
    check_outputs({k: v for k, v in inputs.items() if v and Path(v).exists()}, {"--out": out})
    area = None
    if jurisdiction:
        area = read_vector(jurisdiction) if Path(jurisdiction).exists() else jurisdiction
    rasters = {"landcover": landcover} if landcover else {}
    pop = _population(population)
    net = read_vector(network) if network else None
    known = sorted({"jurisdiction", *p.scopes})
    scopes = {}
    for item in scope_files:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not Path(path).exists():
            raise click.BadParameter(
                f"{item!r}: expected NAME=FILE with an existing file", param_hint="--scope"
            )
        if name not in known:
            raise click.BadParameter(
                f"{item!r}: pack {p.name!r} declares no scope {name!r}; scopes: {known}",
                param_hint="--scope",
            )
        scopes[name] = read_vector(path)
    with open_store(store) as st, progress_bar("measuring targets", enabled=False):
        kinds = sorted(set(st.list_layers()["kind"].astype(str)))
        layers = {k: st.get_kind(k) for k in kinds}
        results = measure_targets(
            p,
            layers,
            by=None if by == "none" else by,
            jurisdiction=area,
            rasters=rasters,
            population=pop,
            network=net,
            method=method,
            scopes=scopes,
            judge_partial=judge_partial,
            metrics=list(metric_names) or None,
        )
    written = _write_tables(results, out, p, table_format) if out is not None else []
    if as_json:
        echo_json(
            {
                "pack": {"name": p.name, "version": p.version},
                "metrics": [_long_record(r) for r in results],
                "written": [str(w) for w in written],
            }
        )
        return
    if not results:
        click.echo(
            f"{p.title}（{p.name} v{p.version}）：规划未设定本工具可测算的空间指标，无目标可评估 "
            "(the pack has no spatial targets)"
        )
        return
    rows = []
    for r in results:
        if r.status == "no_data":
            rows.append(
                [
                    r.label,
                    r.scope_name or "",
                    "无数据",
                    f"{r.comparison} {_fmt(r.target, 1)}",
                    r.nature_zh,
                    "无数据/未测算",
                    "—",
                    r.reason or "",
                ]
            )
            continue
        if r.status in ("met", "unmet"):
            gap = (
                f"{_fmt(r.gap_pp)} pp / {_fmt(r.gap_abs)} {r.gap_unit}"
                if r.gap_pp is not None
                else f"{_fmt(r.gap_abs)} {r.gap_unit}"
            )
        else:
            gap = "—"
        note = "；".join(n["text"] for n in r.notes if n["kind"] == "missing_data")
        rows.append(
            [
                r.label,
                r.scope_name or "",
                f"{_fmt(r.value)} {r.unit}",
                f"{r.comparison} {_fmt(r.target, 1)}",
                r.nature_zh,
                _mark(r),
                gap,
                note or (r.citation or ""),
            ]
        )
    print_table(
        f"{p.title}（{p.name} v{p.version}）目标达标情况",
        ["指标", "范围", "现状值", "目标", "目标性质", "是否达标", "差距", "依据/说明"],
        rows,
    )
    if by != "none":
        for r in results:
            if not r.measured or r.by_district is None or r.by_district.empty:
                continue
            d = r.by_district
            area_col = next(
                (c for c in ("measured_km2", "covered_km2", "park_km2", "forest_km2") if c in d),
                None,
            )
            print_table(
                f"{r.label} — 分区贡献（不单独考核）",
                ["区", "现状值", "面积 km²", "状态"],
                [
                    [
                        row.get("name"),
                        _fmt(row.get("value")),
                        _fmt(row.get(area_col)) if area_col else "—",
                        "贡献" if row.get("status") == "contribution" else "无数据",
                    ]
                    for row in d.to_dict(orient="records")
                ],
            )
    demo = sorted({n["text"] for r in results for n in r.notes if n["kind"] == "demo_data"})
    for text in demo:
        click.echo(f"注意：{text}", err=True)
    for w in written:
        click.echo(f"table written to {w}", err=True)


def _long_record(r) -> dict:
    return {
        **r.as_row(),
        "status_en": r.status_en,
        "covered_districts": list(r.covered_districts),
        "inputs": r.inputs,
        "details": r.details,
        "notes": r.notes,
        "by_district": None if r.by_district is None else r.by_district.to_dict(orient="records"),
    }


def _write_tables(results, out: Path, pack, table_format: str) -> list[Path]:
    import json

    from zoning.coverage.measure import write_metrics_csv
    from zoning.coverage.tables import write_coverage_table

    suffix = out.suffix.lower()
    if suffix == ".json":
        payload = [_long_record(r) for r in results]
        from geo.io.atomic import replacing_file

        with replacing_file(out) as tmp:
            tmp.write_text(
                json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
        return [out]
    if suffix == ".csv" and table_format == "long":
        return write_metrics_csv(results, out)
    return [write_coverage_table(results, out, pack=pack)]


@click.command()
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Uncovered residential land (.gpkg styled for QGIS, .gdb for ArcGIS, .geojson, ...); "
    "candidates go to <stem>.candidates.<suffix> (or a second GeoPackage layer).",
)
@click.option(
    "--candidates",
    "n_candidates",
    type=int,
    default=10,
    show_default=True,
    help="How many new pocket-park sites to propose (0: none).",
)
@click.option(
    "--candidate-file",
    type=click.Path(exists=True, path_type=Path),
    help="Candidate parcels or points to choose from, instead of a grid.",
)
@click.option(
    "--radius",
    "radius_m",
    type=float,
    default=300.0,
    show_default=True,
    help="Service radius of a new pocket park (m).",
)
@click.option(
    "--spacing",
    "spacing_m",
    type=float,
    default=200.0,
    show_default=True,
    help="Candidate grid spacing (m).",
)
@store_opt
@json_opt
@handle_errors
def gaps(pack, out, n_candidates, candidate_file, radius_m, spacing_m, store, as_json) -> None:
    """Residential land outside every park service radius, and where to add pocket parks.

    The gaps are ranked by area per district; candidates are chosen greedily, each
    adding the most uncovered residential land, with the coverage after each.
    """
    from geo.io import read_vector
    from geo.io.writers import check_outputs
    from layers import open_store
    from maps.qgis_style import gap_output_paths, write_gap_outputs
    from zoning.pack import load_pack
    from zoning.workflow import coverage_gaps

    p = load_pack(pack)
    check_outputs({"--candidate-file": candidate_file}, gap_output_paths(out))
    cands = read_vector(candidate_file) if candidate_file else None
    with open_store(store) as st:
        uncovered, chosen = coverage_gaps(
            p, st, n_candidates=n_candidates, candidates=cands, radius_m=radius_m,
            spacing_m=spacing_m,
        )  # fmt: skip
    write_gap_outputs(uncovered, chosen, out)  # styled for QGIS in a GeoPackage
    total = float(uncovered["area_m2"].sum()) if len(uncovered) else 0.0
    payload = {
        "pack": p.name,
        "uncovered_polygons": len(uncovered),
        "uncovered_m2": total,
        "out": str(out),
        "candidates": []
        if chosen is None
        else chosen.drop(columns="geometry").to_dict(orient="records"),
    }
    if as_json:
        echo_json(payload)
        return
    click.echo(
        f"{len(uncovered):,} uncovered residential polygons, {total / 1e6:,.3f} km² "
        f"(公园服务半径未覆盖居住用地) → {out}"
    )
    if chosen is not None and len(chosen):
        print_table(
            "新增口袋公园候选 pocket-park candidates",
            ["#", "gain m²", "coverage after %", "district"],
            [
                [
                    r["order"],
                    f"{r['gain_m2']:,.0f}",
                    _fmt(r.get("coverage_pct")),
                    r.get("district", ""),
                ]
                for r in payload["candidates"]
            ],
        )
