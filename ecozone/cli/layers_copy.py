"""``ecozone layers copy SRC DST``: copy layers with their versions between stores."""

from __future__ import annotations

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt


@click.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="NAME",
    help="Layer to copy (repeatable). Default: every layer of SRC.",
)
@click.option("--latest-only", is_flag=True, help="Copy only the latest version of each layer.")
@json_opt
@handle_errors
def copy(src: str, dst: str, names: tuple[str, ...], latest_only: bool, as_json: bool) -> None:
    """Copy layers and all their versions from SRC to DST (图层库复制).

    SRC and DST are GeoPackage paths or PostgreSQL URLs
    (postgresql://user@host:5432/db, optionally ?schema=NAME; the password from
    $PGPASSWORD or ~/.pgpass). Every version is verified by its checksum when read
    and again after it is written; versions DST already holds unchanged are skipped.

    \b
    Example:
      ecozone layers copy ecozone.gpkg postgresql://gis@db.example/ecozone
      ecozone layers copy postgresql://gis@db.example/ecozone backup.gpkg --name redline
    """
    from layers.copy import copy_layers, open_any_store

    with open_any_store(src, create=False) as s, open_any_store(dst, create=True) as d:
        frame = copy_layers(s, d, names=list(names) or None, all_versions=not latest_only)
        src_path, dst_path = str(s.path), str(d.path)
    if as_json:
        echo_json({"src": src_path, "dst": dst_path, "versions": frame.to_dict(orient="records")})
        return
    rows = [
        [r.name, r.kind, r.src_version, r.dst_version, f"{r.row_count:,}", r.checksum[:16] + "…",
         "已复制 copied" if r.action == "copied" else "已存在 present"]
        for r in frame.itertuples()
    ]  # fmt: skip
    print_table(
        f"{src_path} → {dst_path}",
        ["name", "kind", "src v", "dst v", "features", "checksum", "action"],
        rows,
    )
    copied = int((frame["action"] == "copied").sum())
    click.echo(f"{copied} version(s) copied, {len(frame) - copied} already present.", err=True)
