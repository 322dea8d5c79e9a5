"""``ecozone coverage`` and ``ecozone gaps``: plan targets measured, and where they fall short."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table, progress_bar
from ecozone.cli.options import json_opt, pack_opt, store_opt


def _fmt(value, digits: int = 2) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}"


def _mark(met) -> str:
    return "—" if met is None else ("✓ 达标" if met else "✗ 未达标")


@click.command()
@pack_opt
@click.option(
    "--by",
    type=click.Choice(["district", "none"]),
    default="district",
    show_default=True,
    help="Per-district breakdown (分区统计).",
)
@click.option(
    "--jurisdiction",
    default=None,
    help="Adcode (e.g. 110112) or a polygon file, instead of the pack's jurisdiction.",
)
@click.option(
    "--landcover",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Land-cover GeoTIFF for forest coverage (森林覆盖率).",
)
@click.option(
    "--population",
    default=None,
    help="Population: a number or a population GeoTIFF (人均公园绿地).",
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
    help="Area for scoped targets: plains=FILE (平原地区), sub_centre=FILE, built_up=FILE.",
)
@click.option(
    "--method",
    type=click.Choice(["vector", "raster"]),
    default="vector",
    show_default=True,
    help="Park coverage method.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the tables: .csv (summary + <stem>.districts.csv) or .json.",
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
    out,
    store,
    as_json,
) -> None:
    """Measure every spatial target of a pack against the plan (目标达标评估).

    Red line share ≥ 26.1 %, ecological control zone 75 %, park 500 m service
    coverage 90 %, park green per person 16.7 m², forest and sponge-city shares —
    value, target, gap in percentage points and km², and a per-district table.
    """
    from geo.io import read_vector
    from layers import open_store
    from zoning.coverage import measure_targets
    from zoning.pack import load_pack

    p = load_pack(pack)
    area = None
    if jurisdiction:
        area = read_vector(jurisdiction) if Path(jurisdiction).exists() else jurisdiction
    rasters = {"landcover": landcover} if landcover else {}
    pop = None
    if population:
        pop = float(population) if population.replace(".", "", 1).isdigit() else population
    net = read_vector(network) if network else None
    scopes = {}
    for item in scope_files:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).exists():
            raise click.BadParameter(
                f"{item!r}: expected NAME=FILE with an existing file", param_hint="--scope"
            )
        scopes[name.strip()] = read_vector(path)
    with open_store(store) as st, progress_bar("measuring targets", enabled=False):
        results = measure_targets(
            p,
            st,
            by=None if by == "none" else by,
            jurisdiction=area,
            rasters=rasters,
            population=pop,
            network=net,
            method=method,
            scopes=scopes,
        )
    if out is not None:
        _write_tables(results, out)
    if as_json:
        echo_json(
            {
                "pack": {"name": p.name, "version": p.version},
                "metrics": [
                    {
                        **r.as_row(),
                        "inputs": r.inputs,
                        "details": r.details,
                        "by_district": r.by_district.to_dict(orient="records"),
                    }
                    for r in results
                ],
            }
        )
        return
    rows = []
    for r in results:
        if not r.measured:
            rows.append([r.label, "—", _fmt(r.target, 1), "—", "未测算", r.reason or ""])
            continue
        gap = (
            f"{_fmt(r.gap_pp)} pp / {_fmt(r.gap_abs)} {r.gap_unit}"
            if r.gap_pp is not None
            else f"{_fmt(r.gap_abs)} {r.gap_unit}"
        )
        rows.append(
            [
                r.label,
                f"{_fmt(r.value)} {r.unit}",
                f"{r.comparison} {_fmt(r.target, 1)}",
                gap,
                _mark(r.met),
                r.citation or "",
            ]
        )
    print_table(
        f"{p.title}（{p.name} v{p.version}）目标达标情况",
        ["指标 metric", "现状 value", "目标 target", "差距 gap", "达标", "依据 source"],
        rows,
    )
    if by != "none":
        for r in results:
            if not r.measured or r.by_district is None or r.by_district.empty:
                continue
            d = r.by_district
            print_table(
                f"{r.label} — 分区 by district",
                ["区 district", "value", "target", "gap pp", "达标"],
                [
                    [
                        row.get("name"),
                        _fmt(row.get("value")),
                        _fmt(row.get("target"), 1),
                        _fmt(row.get("gap_pp")),
                        _mark(row.get("met")),
                    ]
                    for row in d.to_dict(orient="records")
                ],
            )
    if out is not None:
        click.echo(f"tables written to {out}", err=True)


def _write_tables(results, out: Path) -> None:
    import json

    from zoning.coverage import write_metrics_csv

    if out.suffix.lower() == ".json":
        payload = [
            {
                **r.as_row(),
                "by_district": None
                if r.by_district is None
                else r.by_district.to_dict(orient="records"),
            }
            for r in results
        ]
        out.write_text(
            json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        return
    write_metrics_csv(results, out)


@click.command()
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Uncovered residential land (.gpkg/.geojson/...); candidates go to "
    "<stem>.candidates.<suffix> (or a second GeoPackage layer).",
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
    from geo.io import read_vector, write_vector
    from layers import open_store
    from zoning.coverage import districts_of
    from zoning.gaps import pocket_park_sites, uncovered_residential
    from zoning.pack import load_pack
    from zoning.workflow import jurisdiction_area

    p = load_pack(pack)
    with open_store(store) as st:
        area = jurisdiction_area(p, st)
        parks, residential = st.get_kind("park"), st.get_kind("residential")
        boundary = st.get_kind("boundary")
    uncovered = uncovered_residential(
        parks,
        residential,
        tiers=p.park_service,
        area_of=area,
        districts=districts_of(boundary, list(p.jurisdiction.adcodes)),
    )
    chosen = None
    if n_candidates > 0 and len(uncovered):
        cands = read_vector(candidate_file) if candidate_file else None
        chosen = pocket_park_sites(
            uncovered,
            n=n_candidates,
            radius_m=radius_m,
            spacing_m=spacing_m,
            candidates=cands,
            exclude=[residential, parks],
        )
    if out.suffix.lower() == ".gpkg":
        write_vector(uncovered, out, layer="uncovered_residential")
        if chosen is not None:
            write_vector(chosen, out, layer="pocket_park_candidates")
    else:
        write_vector(uncovered, out)
        if chosen is not None:
            write_vector(chosen, out.with_name(f"{out.stem}.candidates{out.suffix}"))
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
