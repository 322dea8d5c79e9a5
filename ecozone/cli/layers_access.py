"""``ecozone layers import-access-list FILE``: a published access list onto the units."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt, store_opt


@click.command("import-access-list")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--units",
    default="control_unit",
    show_default=True,
    help="The control-unit layer (环境管控单元) the list is joined to by unit code.",
)
@click.option("--sheet", default=None, help="Excel sheet name (default: the first).")
@click.option("--source", default=None, help="Source document (default: the file name).")
@click.option("--source-date", default=None, help="Date of the source, e.g. 2024-06-30.")
@store_opt
@json_opt
@handle_errors
def import_access_list_cmd(
    path: Path,
    units: str,
    sheet: str | None,
    source: str | None,
    source_date: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Import a published access list (准入清单, CSV/XLSX) into the control units.

    Columns: 环境管控单元编码, 管控维度, 管控要求; optional 效力 (禁止/限制/要求) and
    行业代码 (GB/T 4754). Rows are joined to the units of --units by code; the units
    are stored as a new layer version. Rows that do not join are listed (file, row,
    code) and the rest imported. Effect and conditions (industries, 新建/扩建, VOCs,
    重金属 ...) are read from the text where it names them (docs/rules.md).

    Example: ecozone layers import-access-list 准入清单.xlsx --units control_unit
    """
    from layers import open_store
    from zoning.access_list import import_access_list

    with open_store(store) as st:
        layer, errors = import_access_list(
            st, path, units=units, source=source, source_date=source_date, sheet=sheet
        )
    result = {
        "name": layer.name,
        "version": layer.version,
        "row_count": layer.row_count,
        "checksum": layer.checksum,
        "rejected": errors,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"access list joined: {layer.name} v{layer.version}, {layer.row_count:,} units "
        f"(sha256 {layer.checksum[:12]}…); {len(errors)} row(s) not imported"
    )
    if errors:
        print_table(
            "rows not imported / 未导入的行",
            ["file", "row", "code", "problem"],
            [[e["file"], e["row"], e["code"], e["problem"]] for e in errors],
        )
