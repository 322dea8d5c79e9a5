"""``ecozone check``: the 三线一单 site check, for one site or a batch."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ecozone.cli._output import echo_json, handle_errors, note_line, print_table, progress_bar
from ecozone.cli.options import coords_opt, crs_opt, json_opt, pack_opt, store_opt, zone_opt

# (the vocabularies only: zoning.project imports no engine, nothing heavy, at start-up)
from zoning.project import ACTIVITIES, FLAGS, PROJECT_TYPES

_VERDICT_STYLE = {
    "prohibited": "bold red",
    "restricted": "bold dark_orange",
    "insufficient_data": "bold magenta",
    "needs_review": "bold cyan",
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
    help="Batch mode: one row per site (.gpkg opens styled in QGIS, .gdb File "
    "Geodatabase for ArcGIS, .xlsx workbook of sites/findings/errors, .csv, .geojson).",
)
@click.option(
    "--errors",
    "errors_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch mode: CSV of rows that could not be checked (default <out>.errors.csv).",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Batch mode, .csv: write text exactly (no ' before = + - @); for data pipelines. "
    "By default such cells are made safe to open in Excel/WPS.",
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
    type=click.Choice(list(PROJECT_TYPES)),
    default=None,
    help="Project type (项目类型).",
)
@click.option(
    "--industry-code",
    "--industry",
    "industry_code",
    default=None,
    help="GB/T 4754-2017 industry code, e.g. C2641 (行业代码; checked against the catalogue).",
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    type=click.Choice(list(FLAGS)),
    help=(
        "What the project produces or is (repeatable): 废水/VOCs/污水/垃圾/厕所/粪污/NOx/"
        "重金属/赤泥 red_mud/锰渣 manganese_slag/新增钢铁产能 steel/新增焦化产能 coking/"
        "化工项目或园区 chemical/尾矿库 tailings."
    ),
)
@click.option(
    "--activity",
    type=click.Choice(list(ACTIVITIES)),
    default=None,
    help=(
        "Limited human activity the project is (有限人为活动, 自然资发〔2022〕142号), "
        "allowing the plans' exceptions: patrol_management 管护巡护, research_monitoring "
        "科研监测, disaster_relief 防灾减灾, military_defense 军事国防, residents_livelihood "
        "原住居民生产生活, archaeology 考古, eco_tourism 适度旅游, linear_infrastructure "
        "无法避让的线性基础设施, water_supply_facility 供水设施, facility_maintenance 已有设施"
        "维护, geological_survey 地质调查, ecological_restoration 生态修复, border_works 界务工程."
    ),
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
    "--radius",
    "radii",
    type=float,
    multiple=True,
    metavar="METRES",
    help="Screening radius (周边筛查半径, repeatable, e.g. --radius 500 --radius 1000): every "
    "feature within it, with distance and direction. Default: the pack's (500/1000/5000 m).",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Reproduce with layer versions 'redline=3,well=2' or those of an old report.json.",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of the report (one language per document).",
)
@click.option(
    "--site",
    "site_pick",
    default=None,
    help="Report on this feature of a multi-feature file (its site_id, else its number).",
)
@click.option(
    "--each",
    is_flag=True,
    help="With --report DIR: one report per feature in numbered folders, plus index.csv/html.",
)
@click.option(
    "--map-page",
    type=click.Choice(["a4", "a3"]),
    default="a4",
    show_default=True,
    help="Site map in the A4 text, or on its own A3 landscape page (DOCX, PDF).",
)
@click.option(
    "--engine",
    type=click.Choice(["memory", "dask"]),
    default="memory",
    show_default=True,
    help="Batch engine: 'memory' streams any file in chunks with flat memory and is the "
    "faster one on a single machine; 'dask' spreads a GeoParquet file over a dask cluster "
    "of several machines (--scheduler; --out is then a folder of GeoParquet parts).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Batch mode: chunks of sites checked at once, one thread each (default and most: "
    "all cores; a one-chunk batch is split over the threads instead); with --engine dask, "
    "the worker "
    "processes of the local cluster ecozone starts "
    "(one thread each; default one per core; not with --scheduler, whose cluster keeps its "
    "own workers). Results are the same for any number.",
)
@click.option(
    "--distances",
    default="rules",
    show_default=True,
    metavar="rules|all|KIND,...",
    help="Batch mode: which dist_<kind>_m columns to compute: 'rules' (the layers read "
    "by the pack's nearest-distance rules that apply to the project: without --project "
    "and project columns, to an unknown project), 'all' layers, or layer kinds, e.g. "
    "redline,well. Verdicts do not change.",
)
@click.option(
    "--scheduler",
    default=None,
    help="With --engine dask: the scheduler address (tcp://host:8786); default a local "
    "cluster. Refused without --engine dask.",
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
    raw: bool,
    report_dir: Path | None,
    project_name: str | None,
    project_type: str | None,
    industry_code: str | None,
    flags: tuple[str, ...],
    development: str | None,
    temporary_land_use: bool,
    water_supply: bool,
    activity: str | None,
    exits: tuple[tuple[float, float], ...],
    radii: tuple[float, ...],
    as_of: str | None,
    lang: str,
    site_pick: str | None,
    each: bool,
    map_page: str,
    engine: str,
    workers: int | None,
    distances: str,
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
               --report OUTDIR writes the EIA-ready report (JSON, HTML, DOCX, PDF);
               name, type and industry code come from the file's attributes when
               present (名称/项目名称/XMMC/name, 项目类型, 行业代码), options override;
               --site ID picks one feature, --each reports every feature.
    Batch:     --out results.parquet|gpkg|csv|geojson, one row per site with the
               verdict, key distances and deciding rules; bad rows go to an errors
               CSV. Read, checked and written in chunks (bounded memory),
               --workers chunks at once; --distances picks the dist_<kind>_m columns.
               --engine dask: GeoParquet in, a folder of GeoParquet parts out, on
               a local dask cluster of --workers processes or --scheduler ADDRESS.
    Project attributes come from the options (all sites) or, in a batch without
    them, from columns such as project_type/项目类型, industry_code/行业代码, flags.

    \b
    Examples:
      ecozone check --at "116.66,39.91" --pack tongzhou --project-type construction
      ecozone check site.kml --pack tongzhou --project-type construction --report out/
      ecozone check sites.geojson --pack beijing --report out/ --each --lang en
      ecozone check sites.csv --coords gcj02 --pack beijing --out results.gpkg
      ecozone check pts.parquet --pack beijing --out res.parquet --workers 2
    """
    from ecozone.cli._process import paused_gc

    if out is None and report_dir is None:  # a check printed on screen: bounded garbage
        click.get_current_context().with_resource(paused_gc())

    from zoning.industry import validate_industry_code
    from zoning.project import Project

    if industry_code:
        industry_code = validate_industry_code(industry_code, where="--industry-code")
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
            activity,
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
            activity=activity,
            exits=exits,
        )
    read_options = {"crs": crs, "coords": coords_system, "zone": zone}
    if scheduler is not None and (engine != "dask" or out is None):
        raise click.UsageError(
            "--scheduler 只用于 --engine dask 的批量检查 / --scheduler applies only to a batch "
            "on the dask engine: add --engine dask --out DIR, or leave --scheduler out"
        )

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
            raw=raw,
            workers=workers,
            distances=distances,
        )
        return
    if each and (report_dir is None or sites is None):
        raise click.UsageError("--each needs SITES (a file) and --report DIR")
    report_opts = {
        "site": site_pick,
        "each": each,
        "map_page": map_page,
        "source_name": sites.name if sites is not None else "--at",
        "radii": radii,
        "options": {
            "name": project_name, "project_type": project_type, "industry_code": industry_code,
            "flags": flags, "development": development, "activity": activity, "exits": exits,
            "temporary_land_use": temporary_land_use or None,
            "water_supply": water_supply or None,
        },
    }  # fmt: skip
    _single(
        sites, at_text, pack, report_dir, project, read_options, as_of, lang, store, as_json,
        report_opts=report_opts,
    )  # fmt: skip


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
    sites,
    at_text,
    pack,
    report_dir,
    project,
    read_options,
    as_of,
    lang,
    store,
    as_json,
    *,
    report_opts=None,
) -> None:
    from ecozone.cli._report import report_each, report_one
    from ecozone.workflows import check_site, site_checker
    from zoning.report.project import select_site

    report_opts = report_opts or {}
    gdf = _read_sites(sites, at_text, read_options)
    issues = list(gdf.attrs.get("issues") or [])  # repairs by the reader: report notes
    if report_opts.get("site") is not None:
        gdf = select_site(gdf, report_opts["site"])
    gdf.attrs["issues"] = issues
    checker = site_checker(pack, store, as_of=as_of)
    if report_dir is not None and report_opts.get("each"):
        rows = report_each(
            checker, gdf, options=report_opts["options"], outdir=report_dir, lang=lang,
            map_page=report_opts["map_page"], input_system=read_options["coords"],
            source_name=report_opts["source_name"],
        )  # fmt: skip
        if as_json:
            echo_json({"reports": rows, "index": str(report_dir / "index.csv")})
            return
        for r in rows:
            click.echo(f"{r['no']:>4} {r['site_id']}: {r['verdict_label']}  {r['folder']}")
        click.echo(f"INDEX {report_dir / 'index.csv'}")
        return
    if report_dir is not None:
        if len(gdf) > 1:
            click.echo(
                f"{len(gdf)} features: reporting the first; pick one with --site ID, or "
                "--each for one report per feature (--out for a batch table)",
                err=True,
            )
            gdf = gdf.iloc[[0]]
        result, _, written = report_one(
            checker, gdf, options=report_opts.get("options") or {}, issues=issues,
            outdir=report_dir,
            lang=lang, map_page=report_opts.get("map_page", "a4"),
            input_system=read_options["coords"],
            where=f"{report_opts.get('source_name', 'input')} feature "
            f"{gdf['source_row'].iloc[0] if 'source_row' in gdf else 1}",
        )  # fmt: skip
    else:
        written = {}
        result = None
    done = check_site(
        checker, gdf, project=project, input_system=read_options["coords"],
        radii_m=report_opts.get("radii"), result=result,
    )  # fmt: skip
    result, screening = done.result, done.screening
    if as_json:
        payload = result.to_dict()
        payload["screening"] = screening.to_dict(orient="records")
        if written:
            payload["reports"] = {k: str(v) for k, v in written.items()}
        echo_json(payload)
        return
    _print_result(result)
    _print_screening(screening, checker.pack)
    for fmt, path in written.items():
        click.echo(f"{fmt.upper():5s} {path}")


def _print_screening(rows, pack) -> None:
    """The screening list: every feature within the radii, nearest first (pack's kind names)."""
    if rows.empty:
        click.echo("周边筛查：半径内没有图层要素 / screening: no layer feature within the radii")
        return
    print_table(
        "周边筛查 / screening (radius, distance, direction)",
        ["半径 radius", "图层 layer", "要素 feature", "距离 distance", "方位 direction"],
        [
            [f"≤{r.radius_m:g} m", pack.kind_label(r.kind, "zh"),
             r.label, f"{r.distance_m:,.1f} m", r.direction_zh]
            for r in rows.itertuples(index=False)
        ],
    )  # fmt: skip


def _print_result(result) -> None:
    from ecozone.cli._output import console
    from zoning.sources import format_citation

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
            cites = "；".join(format_citation(c, quote=False) for c in f["citations"] or [])
            rows.append([f["rule_id"], f["outcome"], f["title"], measured, cites])
        if rows:
            print_table("findings", ["rule", "outcome", "title", "measured", "source"], rows)
        for note in result.site_to_dict(site["site_id"])["notes"]:
            console.print(f"[dim]{escape(note_line(note))}[/]", soft_wrap=True)


def _batch(
    sites, at_text, pack, out, errors_out, project, read_options, store, as_json, engine, scheduler,
    *, raw: bool = False, workers: int | None = None, distances: str = "rules",
) -> None:  # fmt: skip
    from layers import open_store
    from maps.qgis_style import write_options as styled
    from zoning.check.batch import batch_output_driver, run_batch

    def write_options(gdf, path):  # the run_batch callback, plus --raw
        return {**styled(gdf, path), **({"raw": True} if raw else {})}

    if sites is None:
        raise click.UsageError("batch mode (--out) needs a SITES file")
    if engine != "dask":  # an unsupported format fails now (dask: a GeoParquet folder)
        batch_output_driver(out)
    if engine == "dask":
        from zoning.check.dask_batch import run_batch_dask

        if scheduler is not None and workers is not None:
            click.echo(
                f"warning: --workers {workers} 不适用于 --scheduler 指定的集群 / --workers does "
                f"not apply with --scheduler: the running cluster at {scheduler} checks with "
                "its own workers (size it where it is started, e.g. `dask worker ADDRESS "
                "--nworkers N --nthreads 1`); --workers is ignored",
                err=True,
            )
            workers = None
        if scheduler is None:
            click.echo(
                "note: --engine dask 在本机启动本地集群 / starts a local cluster on this "
                "machine, which takes seconds to start and shuffles the sites between "
                "processes; without --engine dask the in-memory engine streams any file in "
                "chunks with flat memory and is faster on one machine (docs/scaling.md). "
                "dask pays off on a cluster of several machines (--scheduler ADDRESS)",
                err=True,
            )
        with open_store(store) as st, progress_bar("checking sites", enabled=not as_json) as bar:
            summary = run_batch_dask(
                sites,
                pack=pack,
                store=st,
                out=out,
                scheduler=scheduler,
                n_workers=workers,  # the local cluster's worker processes
                errors_out=errors_out,
                project=project,
                progress=bar,
                missing_layers="skip",
                distances=distances,
            )
        data = summary.to_dict()
        _refuse_empty(data, sites)
        echo_json(data) if as_json else _print_batch(data)
        return
    from ecozone.cli._process import lean_native_heap

    lean_native_heap()  # streamed: memory freed per chunk is given back, not kept
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
            write_options=write_options,  # QGIS style (.gpkg) / Chinese aliases (.gdb)
            missing_layers="skip",  # its rules are 数据不足 for every site, with a warning
            workers=workers,
            distances=distances,
            keep_sites=False,  # streamed: no frame of every site in memory
        )
    data = summary.to_dict()
    _refuse_empty(data, sites)
    if as_json:
        echo_json(data)
        return
    _print_batch(data)


def _refuse_empty(data: dict, sites: object) -> None:
    """An input without a single site is an error (exit 1), not "checked 0 of 0"."""
    if not data.get("total"):
        msg = (
            f"{sites}: 没有场址 / the input holds no site (0 features or rows); nothing was "
            "checked. Check that the file is the right one and is not empty"
        )
        raise click.ClickException(msg)


def _print_batch(data: dict) -> None:
    from ecozone.cli._output import console
    from zoning.report.build import VERDICTS

    console.print(
        f"checked {data['checked']:,} of {data['total']:,} sites in {data['elapsed_s']:.1f} s "
        f"→ {data['out']}"
    )
    for verdict, count in data["by_verdict"].items():
        label = VERDICTS.get(verdict, (verdict,))[0]
        style = _VERDICT_STYLE.get(verdict, "bold")
        console.print(f"  [{style}]{label}[/] ({verdict}): {count:,}")
    for note in data.get("notes") or ():  # what every site's verdict rests on
        style = "bold magenta" if note["kind"] == "demo_data" else "dim"
        console.print(f"[{style}]{escape(note_line(note))}[/]", soft_wrap=True)
    if data["errors"]:
        console.print(
            f"[bold red]{data['errors']:,} rows could not be checked[/]: see {data['errors_out']}"
        )
    if data.get("outside_jurisdiction"):
        console.print(
            f"  {data['outside_jurisdiction']:,} of them lie outside the pack's jurisdiction "
            "(status outside_jurisdiction)"
        )
