"""``ecozone layers``: list, import, history, show and export versioned layers."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import coords_opt, crs_opt, json_opt, store_opt, zone_opt


def _kinds_help() -> str:
    from layers.kinds import LAYER_KINDS, kind_info

    return ", ".join(f"{k} ({kind_info(k).label_zh})" for k in LAYER_KINDS)


def _extent_text(extent: dict | None) -> str | None:
    """An extent as users read it: "110112,110115", or "polygon" for a drawn one."""
    if extent is None:
        return None
    if "adcodes" in extent:
        return ",".join(extent["adcodes"])
    return "polygon (--extent-file)"


def _short(text: str, width: int = 36) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group()
def layers() -> None:
    """The versioned layer store (图层库): red lines, wells, parks, control units, ..."""


@layers.command("list")
@store_opt
@json_opt
@handle_errors
def list_cmd(store: str | None, as_json: bool) -> None:
    """List the latest version of every layer with its provenance."""
    from layers import open_store

    with open_store(store) as st:
        frame = st.list_layers()
        path = st.path
    if as_json:
        echo_json({"store": str(path), "layers": frame.to_dict(orient="records")})
        return
    rows = [
        [
            r.name,
            f"{r.label_zh} {r.kind}",
            r.version,
            f"{r.row_count:,}",
            "演示数据 synthetic" if r.synthetic else "—",
            _short(r.source),
            str(r.created_at)[:16],
        ]
        for r in frame.itertuples()
    ]
    print_table(
        f"layers in {path}",
        ["name", "kind", "version", "features", "synthetic", "source", "imported"],
        rows,
    )


@layers.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="Layer name (default: the kind).")
@click.option(
    "--kind", required=True, help="Layer kind; one of the kinds listed in `ecozone layers kinds`."
)
@click.option("--source", default=None, help="Source document or file (default: the file name).")
@click.option("--source-date", default=None, help="Date of the source, e.g. 2024-06-30.")
@click.option("--synthetic", is_flag=True, help="Flag the features as synthetic (not official).")
@click.option(
    "--extent",
    "extent_codes",
    default=None,
    metavar="ADCODE[,ADCODE]",
    help="Area the layer is authoritative for (complete in), as administrative codes "
    "(6-digit adcodes) of boundary features, comma-separated. Default: the jurisdictions "
    "its features fall in. "
    "Outside it, rules on this layer give 数据不足 (insufficient data).",
)
@click.option(
    "--extent-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Polygon file of the area the layer is authoritative for (instead of --extent).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Import even when features lie outside the extent or far from every jurisdiction "
    "(a likely wrong CRS or zone is refused otherwise); the layer history records it.",
)
@crs_opt
@coords_opt
@zone_opt
@store_opt
@json_opt
@handle_errors
def import_cmd(
    path: Path,
    name: str | None,
    kind: str,
    source: str | None,
    source_date: str | None,
    synthetic: bool,
    extent_codes: str | None,
    extent_file: Path | None,
    force: bool,
    crs: str | None,
    coords_system: str,
    zone: int | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Import PATH as a new version of a layer (any format ecozone reads).

    The version records its extent, the area it is complete for (--extent or
    --extent-file; default: the jurisdictions its features fall in).
    """
    from geo.io import read_vector
    from layers import open_store
    from layers.extent import parse_extent

    extent = parse_extent(extent_codes, extent_file)  # bad codes fail before reading
    gdf = read_vector(path, crs=crs, coords=coords_system, zone=zone)
    issues = gdf.attrs.get("issues", [])
    with open_store(store) as st:
        layer = st.import_layer(
            gdf,
            name=name or kind,
            kind=kind,
            source=source or path.name,
            source_date=source_date,
            synthetic=synthetic,
            extent=extent,
            force=force,
        )
        from maps.qgis_style import style_store

        style_store(st)  # the new version opens styled in QGIS
    result = {
        "name": layer.name,
        "kind": layer.kind,
        "version": layer.version,
        "row_count": layer.row_count,
        "checksum": layer.checksum,
        "extent": _extent_text(layer.extent),
        "issues": issues,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"imported {layer.row_count:,} features as {layer.name} v{layer.version} "
        f"(sha256 {layer.checksum[:12]}…)"
    )
    click.echo(f"extent (authoritative for): {_extent_text(layer.extent) or '— (everywhere)'}")
    for issue in issues:
        click.echo(
            f"  row {issue.get('row')}: {issue.get('action')}: {issue.get('reason')}", err=True
        )


@layers.command("history")
@click.argument("name")
@store_opt
@json_opt
@handle_errors
def history_cmd(name: str, store: str | None, as_json: bool) -> None:
    """Every version of layer NAME, oldest first."""
    from layers import open_store

    with open_store(store) as st:
        frame = st.history(name)
    if as_json:
        echo_json(frame.to_dict(orient="records"))
        return
    rows = [
        [
            r.version,
            f"{r.row_count:,}",
            r.source,
            r.source_date or "—",
            str(r.created_at)[:19],
            r.checksum[:16],
        ]
        for r in frame.itertuples()
    ]
    print_table(
        f"history of {name}",
        ["version", "features", "source", "source date", "imported", "sha256"],
        rows,
    )


@layers.command("show")
@click.argument("name")
@click.option("--version", type=int, default=None, help="Version (default: latest).")
@click.option("--head", type=int, default=10, show_default=True, help="Features to print.")
@store_opt
@json_opt
@handle_errors
def show_cmd(name: str, version: int | None, head: int, store: str | None, as_json: bool) -> None:
    """Metadata and the first features of layer NAME (checksum verified)."""
    from layers import open_store

    with open_store(store) as st:
        layer = st.get(name, version)
    meta = {
        "name": layer.name,
        "kind": layer.kind,
        "version": layer.version,
        "source": layer.source,
        "source_date": layer.source_date,
        "row_count": layer.row_count,
        "checksum": layer.checksum,
        "synthetic": layer.synthetic,
        "extent": _extent_text(layer.extent),
        "crs": str(layer.crs),
        "bounds": [float(v) for v in layer.gdf.total_bounds] if len(layer.gdf) else None,
        "columns": [c for c in layer.gdf.columns if c != "geometry"],
    }
    if as_json:
        sample = layer.gdf.head(head).drop(columns="geometry")
        echo_json({**meta, "features": sample.to_dict(orient="records")})
        return
    print_table(
        f"{layer.name} v{layer.version}", ["field", "value"], [[k, v] for k, v in meta.items()]
    )
    cols = [c for c in ("feature_id", "name") if c in layer.gdf.columns]
    cols += [c for c in meta["columns"] if c not in cols][:4]
    rows = [[getattr(r, c, "") for c in cols] for r in layer.gdf.head(head).itertuples()]
    print_table(f"first {min(head, layer.row_count)} features", cols, rows)


@layers.command("export")
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", type=int, default=None, help="Version (default: latest).")
@click.option(
    "--raw",
    is_flag=True,
    help="CSV output: write text exactly (no ' before = + - @), for data pipelines. By "
    "default such cells are made safe to open in Excel/WPS.",
)
@store_opt
@json_opt
@handle_errors
def export_cmd(
    name: str, out: Path, version: int | None, raw: bool, store: str | None, as_json: bool
) -> None:
    """Export layer NAME to OUT (.gpkg styled for QGIS, .gdb, .geojson, .parquet, .shp, .csv)."""
    from layers import open_store
    from maps.qgis_style import write_options

    with open_store(store) as st:
        layer = st.get(name, version)
        options = write_options(layer.gdf, out, layer.kind)
        path = st.export(name, out, version, **options, **({"raw": True} if raw else {}))
    if as_json:
        echo_json({"name": name, "version": version, "path": str(path)})
    else:
        click.echo(f"exported {name} to {path}")


@layers.command("kinds")
@json_opt
def kinds_cmd(as_json: bool) -> None:
    """The layer kinds ecozone knows, with their Chinese names."""
    from layers.kinds import LAYER_KINDS, kind_info

    records = [
        {"kind": k, "label_zh": kind_info(k).label_zh, "label_en": kind_info(k).label_en}
        for k in LAYER_KINDS
    ]
    if as_json:
        echo_json(records)
    else:
        print_table(
            "layer kinds",
            ["kind", "中文", "English"],
            [[r["kind"], r["label_zh"], r["label_en"]] for r in records],
        )


def _add_copy() -> None:
    # `layers copy` lives in its own module; registered here so the group is whole
    # whenever it is loaded (the top-level CLI imports this module lazily).
    from ecozone.cli.layers_copy import copy

    layers.add_command(copy)
    from ecozone.cli.layers_access import import_access_list_cmd

    layers.add_command(import_access_list_cmd)
    from ecozone.cli.layers_verify import verify

    layers.add_command(verify)


_add_copy()
