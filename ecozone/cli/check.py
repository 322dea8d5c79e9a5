"""``ecozone check``: the 三线一单 site check, for one site or a batch."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table, progress_bar
from ecozone.cli.options import coords_opt, crs_opt, json_opt, pack_opt, store_opt, zone_opt

_VERDICT_STYLE = {
    "prohibited": "bold red",
    "restricted": "bold dark_orange",
    "requirements": "bold yellow",
    "compliant": "bold green",
}


def _parse_exit(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]):
    exits = []
    for value in values:
        try:
            lon, lat = (float(v) for v in value.replace("，", ",").split(","))
        except ValueError as exc:
            raise click.BadParameter(f"{value!r}: expected LON,LAT", param_hint="--exit") from exc
        exits.append((lon, lat))
    return tuple(exits)


@click.command()
@click.argument("sites", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--at",
    "at_text",
    default=None,
    help='Coordinates instead of a file: "116.66,39.91" (point), '
    '"lon lat; lon lat; ..." (line/polygon), WKT or GeoJSON.',
)
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch mode: one row per site (.gpkg, .csv, .geojson).",
)
@click.option(
    "--errors",
    "errors_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch mode: CSV of rows that could not be checked (default <out>.errors.csv).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json/html/docx (and pdf when possible) for one site.",
)
@click.option("--name", "project_name", default=None, help="Project name (项目名称).")
@click.option(
    "--project-type",
    type=click.Choice(
        ["construction", "residential", "industrial", "linear", "agriculture", "other"]
    ),
    default=None,
    help="Project type (项目类型).",
)
@click.option(
    "--industry",
    "industry_code",
    default=None,
    help="GB/T 4754 industry code, e.g. C2614 (行业代码).",
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    type=click.Choice(["wastewater", "vocs", "sewage", "garbage", "toilets", "manure"]),
    help="What the project produces (repeatable): 废水/VOCs/污水/垃圾/厕所/粪污.",
)
@click.option(
    "--development",
    type=click.Choice(["new", "expansion"]),
    default=None,
    help="New build (新建) or expansion (改扩建).",
)
@click.option("--temporary-land-use", is_flag=True, help="Temporary land use (临时用地).")
@click.option(
    "--water-supply",
    is_flag=True,
    help="Water-supply facility (供水设施; allowed in grade-1 source zones).",
)
@click.option(
    "--exit",
    "exits",
    multiple=True,
    callback=_parse_exit,
    help="Construction-site exit LON,LAT (repeatable; 工地出口).",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Reproduce with layer versions 'redline=3,well=2' or those of an old report.json.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["memory", "dask"]),
    default="memory",
    show_default=True,
    help="Batch engine: in memory, or dask for inputs larger than memory (GeoParquet in; "
    "--out is then a folder of GeoParquet parts).",
)
@click.option(
    "--scheduler",
    default=None,
    help="dask scheduler address (tcp://host:8786); default a local cluster.",
)
@crs_opt
@coords_opt
@zone_opt
@store_opt
@json_opt
@handle_errors
def check(
    sites: Path | None,
    at_text: str | None,
    pack: str,
    out: Path | None,
    errors_out: Path | None,
    report_dir: Path | None,
    project_name: str | None,
    project_type: str | None,
    industry_code: str | None,
    flags: tuple[str, ...],
    development: str | None,
    temporary_land_use: bool,
    water_supply: bool,
    exits: tuple[tuple[float, float], ...],
    as_of: str | None,
    lang: str,
    engine: str,
    scheduler: str | None,
    crs: str | None,
    coords_system: str,
    zone: int | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Check SITES (a file) or --at coordinates against a rule pack (三线一单符合性).

    \b
    One site:  every rule that applies, distances, overlaps, verdict and sources;
               --report OUTDIR writes the EIA-ready report (JSON, HTML, DOCX, PDF).
    Batch:     --out results.gpkg|csv|geojson, one row per site with the verdict,
               key distances and deciding rules; bad rows go to an errors CSV.
    Project attributes come from the options (all sites) or, in a batch without
    them, from columns such as project_type/项目类型, industry_code/行业代码, flags.

    \b
    Examples:
      ecozone check --at "116.66,39.91" --pack tongzhou --project-type construction
      ecozone check site.kml --pack tongzhou --project-type construction --report out/
      ecozone check sites.csv --coords gcj02 --pack beijing --out results.gpkg
    """
    from zoning.project import Project

    if (sites is None) == (at_text is None):
        raise click.UsageError("give SITES (a file) or --at COORDINATES, not both")
    project_given = any(
        [
            project_name,
            project_type,
            industry_code,
            flags,
            development,
            temporary_land_use,
            water_supply,
            exits,
        ]
    )
    project = None
    if project_given or out is None:
        project = Project(
            name=project_name or "",
            project_type=project_type,
            industry_code=industry_code,
            flags=frozenset(flags),
            development=development or "new",
            temporary_land_use=temporary_land_use,
            water_supply=water_supply,
            exits=exits,
        )
    read_options = {"crs": crs, "coords": coords_system, "zone": zone}

    if out is not None:
        _batch(
            sites,
            at_text,
            pack,
            out,
            errors_out,
            project,
            read_options,
            store,
            as_json,
            engine,
            scheduler,
        )
        return
    _single(sites, at_text, pack, report_dir, project, read_options, as_of, lang, store, as_json)


def _read_sites(sites: Path | None, at_text: str | None, read_options: dict):
    import geopandas as gpd

    from geo.io import read_vector
    from geo.io.text import parse_coordinates

    if sites is not None:
        return read_vector(sites, **read_options)
    geom = parse_coordinates(at_text, coords=read_options["coords"], crs=read_options["crs"])
    crs = read_options["crs"] or "EPSG:4326"
    return gpd.GeoDataFrame({"site_id": ["1"], "source_row": [1]}, geometry=[geom], crs=crs)


def _single(
    sites, at_text, pack, report_dir, project, read_options, as_of, lang, store, as_json
) -> None:
    from layers import open_store
    from zoning.report import build_report, write_reports
    from zoning.workflow import checker_layer_frames, make_checker, parse_as_of

    gdf = _read_sites(sites, at_text, read_options)
    with open_store(store) as st:
        checker = make_checker(pack, st, as_of=parse_as_of(as_of))
    result = checker.check(gdf, project=project)
    if len(result.sites) == 0:
        reasons = "; ".join(result.errors["reason"].astype(str).head(5))
        raise click.ClickException(f"no usable site in the input: {reasons}")
    if report_dir is not None and len(result.sites) > 1:
        click.echo(
            f"{len(result.sites)} sites: reporting the first; use --out for a batch", err=True
        )
    written = {}
    if report_dir is not None:
        from maps.sitemap import site_map_png

        first = result.sites.iloc[[0]]
        report = build_report(result, site_id=first["site_id"].iloc[0], project=project)
        png = site_map_png(first, checker_layer_frames(checker), lang=lang)
        written = write_reports(report, report_dir, map_png=png)
    if as_json:
        payload = result.to_dict()
        if written:
            payload["reports"] = {k: str(v) for k, v in written.items()}
        echo_json(payload)
        return
    _print_result(result)
    for fmt, path in written.items():
        click.echo(f"{fmt.upper():5s} {path}")


def _print_result(result) -> None:
    from ecozone.cli._output import console

    for _, site in result.sites.iterrows():
        style = _VERDICT_STYLE.get(site["verdict"], "bold")
        console.print(
            f"site {site['site_id']}: [{style}]{site['verdict_zh']}[/] ({site['verdict']})"
        )
        rows = []
        for _, f in result.findings[result.findings["site_id"] == site["site_id"]].iterrows():
            measured = ""
            if f.get("overlap_m2") and f["overlap_m2"] > 0:
                measured = f"overlap {f['overlap_m2']:,.1f} m² ({f['overlap_pct']:.1f}%)"
            elif f.get("distance_m") is not None and f["distance_m"] == f["distance_m"]:
                measured = f"{f['distance_m']:,.1f} m"
            rows.append(
                [f["rule_id"], f["outcome"], f["title"], measured, "; ".join(f["citations"] or [])]
            )
        if rows:
            print_table("findings", ["rule", "outcome", "title", "measured", "source"], rows)


def _batch(
    sites, at_text, pack, out, errors_out, project, read_options, store, as_json, engine, scheduler
) -> None:
    from layers import open_store
    from zoning.batch import run_batch

    if sites is None:
        raise click.UsageError("batch mode (--out) needs a SITES file")
    if engine == "dask":
        from zoning.distributed import run_batch_dask

        with open_store(store) as st, progress_bar("checking sites", enabled=not as_json) as bar:
            summary = run_batch_dask(
                sites,
                pack=pack,
                store=st,
                out=out,
                scheduler=scheduler,
                errors_out=errors_out,
                project=project,
                progress=bar,
            )
        data = summary.to_dict()
        echo_json(data) if as_json else _print_batch(data)
        return
    with open_store(store) as st, progress_bar("checking sites", enabled=not as_json) as bar:
        summary = run_batch(
            sites,
            pack=pack,
            store_or_layers=st,
            out=out,
            errors_out=errors_out,
            project=project,
            progress=bar,
            read_options=read_options,
        )
    data = summary.to_dict()
    if as_json:
        echo_json(data)
        return
    _print_batch(data)


def _print_batch(data: dict) -> None:
    from ecozone.cli._output import console
    from zoning.report import VERDICTS

    console.print(
        f"checked {data['checked']:,} of {data['total']:,} sites in {data['elapsed_s']:.1f} s "
        f"→ {data['out']}"
    )
    for verdict, count in data["by_verdict"].items():
        label = VERDICTS.get(verdict, (verdict,))[0]
        style = _VERDICT_STYLE.get(verdict, "bold")
        console.print(f"  [{style}]{label}[/] ({verdict}): {count:,}")
    if data["errors"]:
        console.print(
            f"[bold red]{data['errors']:,} rows could not be checked[/]: see {data['errors_out']}"
        )
