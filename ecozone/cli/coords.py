"""``ecozone coords convert``: between WGS84/CGCS2000, GCJ-02, BD-09 and GK zones."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt

SYSTEM_HELP = (
    "wgs84 | cgcs2000 | gcj02 (AMap/Tencent 高德/腾讯) | bd09 (Baidu 百度) | "
    "gk<zone> (e.g. gk39) | gk (zone from the longitude) | EPSG:<code> (e.g. EPSG:4548)"
)


@click.group()
def coords() -> None:
    """Coordinate tools (坐标转换)."""


@coords.command("convert")
@click.argument("values", nargs=-1, required=False)
@click.option("--from", "src", required=True, help=f"Source system: {SYSTEM_HELP}.")
@click.option("--to", "dst", required=True, help=f"Target system: {SYSTEM_HELP}.")
@click.option(
    "--northing-first",
    is_flag=True,
    help="Input (and output) in survey order X = northing, Y = easting (界址点 tables).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Convert every row of a CSV instead of one coordinate.",
)
@click.option("--x-col", default=None, help="CSV column of x / lon / easting (auto-detected).")
@click.option("--y-col", default=None, help="CSV column of y / lat / northing (auto-detected).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Output CSV (default: print)."
)
@click.option(
    "--raw",
    is_flag=True,
    help="CSV output: write text exactly (no ' before = + - @), for data pipelines. By "
    "default such cells are made safe to open in Excel/WPS.",
)
@json_opt
@handle_errors
def convert(
    values: tuple[str, ...],
    src: str,
    dst: str,
    northing_first: bool,
    csv_path: Path | None,
    x_col: str | None,
    y_col: str | None,
    out: Path | None,
    raw: bool,
    as_json: bool,
) -> None:
    """Convert one coordinate ``X Y`` or a CSV of them.

    \b
    Examples:
      ecozone coords convert --from gcj02 --to wgs84 116.403963 39.915119
      ecozone coords convert --from wgs84 --to gk39 116.397 39.908
      ecozone coords convert --from gk39 --to wgs84 --northing-first 4418000 448000
      ecozone coords convert --from bd09 --to wgs84 --csv points.csv --out wgs.csv
    """
    from geo.convert import convert_table, convert_xy

    if csv_path is not None:
        from geo.io.writers import check_outputs

        check_outputs(csv_path, {"--out": out})
        table = convert_table(
            csv_path, src=src, dst=dst, x_col=x_col, y_col=y_col, northing_first=northing_first
        )
        if out is not None:  # atomic; formula-safe unless --raw (geo.io.spreadsheet)
            from geo.io.atomic import replacing_file
            from geo.io.spreadsheet import write_csv

            if raw:
                with replacing_file(out) as tmp:
                    table.to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                write_csv(table, out)
            click.echo(f"{len(table)} rows written to {out}", err=True)
        elif as_json:
            echo_json(table.to_dict(orient="records"))
        else:
            click.echo(table.to_csv(index=False), nl=False)
        return
    if len(values) != 2:
        raise click.UsageError("give one coordinate as two numbers, X Y, or use --csv FILE")
    try:
        a, b = (float(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(f"not numbers: {values!r}", param_hint="X Y") from exc
    x, y = (b, a) if northing_first else (a, b)
    ox, oy = convert_xy(x, y, src=src, dst=dst)
    ox, oy = float(ox), float(oy)
    first, second = (oy, ox) if northing_first else (ox, oy)
    if as_json:
        echo_json({"from": src, "to": dst, "input": [a, b], "output": [first, second]})
    else:
        print_table(f"{src} → {dst}", ["", "1", "2"], [["in", a, b], ["out", first, second]])
