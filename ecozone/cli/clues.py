"""``ecozone clues``: human-activity clues screened against the red line (人类活动问题线索)."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import coords_opt, crs_opt, json_opt, pack_opt, store_opt, zone_opt


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The clues with their red-line result (.gpkg, .geojson, .csv, ...).",
)
@click.option(
    "--table",
    "table_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Per-district summary (.csv or .xlsx).",
)
@click.option(
    "--id-column",
    default=None,
    help="Column identifying the clues (default clue_id / feature_id / id / 编号).",
)
@click.option(
    "--raw",
    is_flag=True,
    help="CSV output: write text exactly (no ' before = + - @), for data pipelines. By "
    "default such cells are made safe to open in Excel/WPS.",
)
@crs_opt
@coords_opt
@zone_opt
@pack_opt
@store_opt
@json_opt
@handle_errors
def clues(
    path: Path,
    out: Path,
    table_out: Path | None,
    id_column: str | None,
    raw: bool,
    crs: str | None,
    coords_system: str,
    zone: int | None,
    pack: str,
    store: str | None,
    as_json: bool,
) -> None:
    """Screen human-activity clues in PATH against the red line (人类活动问题线索核查).

    \b
    Points: inside a red-line polygon or not. Patches: overlapping or not, the area
    inside the red line (m², ellipsoidal, overlapping red lines counted once) and its
    share of the patch. Each clue gets the red-line ids and its district; a summary
    per district counts clues, clues in the red line and area inside (km²).
    The plan source is the pack's [clues] citation (Tongzhou: 002_735b581d06638fbb.txt
    l.672–674); a pack without one prints no source.

    \b
    Example:
      ecozone clues patches.shp --out clues.gpkg --table clues.csv
    """
    from geo.errors import LayerNotFoundError
    from geo.io import read_vector, write_vector
    from geo.io.writers import check_outputs
    from layers import open_store
    from zoning.pack import load_pack
    from zoning.tasks.clues import CLUE_SUMMARY_ZH, redline_clues
    from zoning.tasks.ledger import write_csv, write_xlsx

    check_outputs(path, {"--out": out, "--table": table_out})
    duty = load_pack(pack).clues  # where the plan asks for the check, if it does
    citation = duty.citation if duty is not None else None
    gdf = read_vector(path, crs=crs, coords=coords_system, zone=zone)
    with open_store(store) as st:
        redline = st.get_kind("redline")
        try:
            boundary = st.get_kind("boundary")
        except LayerNotFoundError:
            boundary = None
            click.echo("warning: no boundary layer in the store; clues get no district", err=True)
    result, summary = redline_clues(gdf, redline, boundary, id_column=id_column, citation=citation)
    write_vector(result, out, raw=raw)
    table = summary.rename(columns=CLUE_SUMMARY_ZH)
    if table_out is not None:
        if table_out.suffix.lower() == ".xlsx":
            write_xlsx(
                {"按区县汇总": table},
                table_out,
                number_formats={CLUE_SUMMARY_ZH["area_in_redline_km2"]: "0.000000"},
            )
        elif table_out.suffix.lower() == ".csv":
            write_csv(table, table_out)
        else:
            raise click.BadParameter(
                f"{table_out.name!r}: use a .csv or .xlsx file name", param_hint="--table"
            )
    n_in = int(result["in_redline"].fillna(False).sum())
    payload = {
        "file": str(path),
        "out": str(out),
        "table": str(table_out) if table_out else None,
        "clues": len(result),
        "in_redline": n_in,
        "area_in_redline_m2": float(result["area_in_redline_m2"].sum()),
        "invalid": int((result["clue_type"] == "invalid").sum()),
        "redline": {"name": redline.name, "version": redline.version},
        "pack": pack,
        "citation": citation,
        "by_district": summary.to_dict(orient="records"),
    }
    if as_json:
        echo_json(payload)
        return
    print_table(
        f"人类活动问题线索 — 生态保护红线核查（{redline.name} v{redline.version}）",
        list(CLUE_SUMMARY_ZH.values()),
        [
            [
                r["district_adcode"],
                r["district_name"],
                r["clues"],
                r["clues_in_redline"],
                f"{r['area_in_redline_km2']:,.6f}",
            ]
            for r in payload["by_district"]
        ],
    )
    click.echo(
        f"依据 / source: {citation}"
        if citation
        else f"规则包 {pack} 未给出线索核查的规划依据 / pack {pack} names no plan source for "
        "clue checks ([clues])"
    )
    click.echo(f"{n_in} of {len(result)} clues in the red line → {out}", err=True)
