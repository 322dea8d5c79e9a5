"""``ecozone stakes``: red line demarcation stakes (勘界定标) with survey coordinates."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import coords_opt, crs_opt, json_opt, overwrite_opt, store_opt, zone_opt


@click.command()
@click.argument("polygons", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--layer",
    default=None,
    help="Take the polygons from the store: a layer kind or name, e.g. redline.",
)
@click.option(
    "--id",
    "ids",
    multiple=True,
    help="Feature id(s) of --layer to stake (repeatable), e.g. redline-00001.",
)
@click.option(
    "--interval",
    "interval_m",
    type=float,
    default=50.0,
    show_default=True,
    help="Largest distance between stakes along the boundary (m); 0: turning points only.",
)
@click.option(
    "--id-column",
    default=None,
    help="Column naming the polygons in POLYGONS (default feature_id, else F1, F2...).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="stakes.xlsx / .csv (the stake table) or .gpkg / .geojson (point layer).",
)
@crs_opt
@coords_opt
@zone_opt
@overwrite_opt
@store_opt
@json_opt
@handle_errors
def stakes(
    polygons: Path | None,
    layer: str | None,
    ids: tuple[str, ...],
    interval_m: float,
    id_column: str | None,
    out: Path,
    crs: str | None,
    coords_system: str,
    zone: int | None,
    overwrite: bool,
    store: str | None,
    as_json: bool,
) -> None:
    """Boundary stakes along red-line polygons (生态保护红线勘界定标).

    \b
    A stake at every turning point (拐点) and evenly spaced extra stakes (加密点)
    so that no two are more than --interval apart, numbered clockwise from the
    north-west corner of each ring (holes numbered separately), with CGCS2000
    Gauss-Krüger X (north) / Y (east) to the millimetre, lon/lat, distance from the
    previous stake and cumulative distance. --zone sets the GK zone (default: the
    zone of each polygon). Source: 000 l.37, 001 l.370, 003 l.34.

    \b
    Examples:
      ecozone stakes --layer redline --id redline-00001 --interval 50 --out stakes.xlsx
      ecozone stakes parcel.kml --out stakes.gpkg
    """
    from geo.io import read_vector
    from geo.io.writers import check_outputs
    from layers import LAYER_KINDS, open_store
    from zoning.tasks.stakes import demarcation_stakes, write_stakes

    if (polygons is None) == (layer is None):
        raise click.UsageError("give POLYGONS (a file) or --layer NAME, not both")
    check_outputs(polygons, {"--out": out})  # (even with --overwrite: the polygons are read)
    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")
    if polygons is not None:
        if ids:
            raise click.UsageError("--id selects features of --layer; for a file use --id-column")
        gdf = read_vector(polygons, crs=crs, coords=coords_system, zone=zone)
        source = str(polygons)
    else:
        if not ids:
            raise click.UsageError(f"--layer {layer} needs --id FEATURE_ID (repeatable)")
        with open_store(store) as st:
            lyr = st.get_kind(layer) if layer in LAYER_KINDS else st.get(layer)
        gdf = lyr.gdf
        known = set(gdf["feature_id"].astype(str))
        unknown = [i for i in ids if i not in known]
        if unknown:
            sample = ", ".join(sorted(known)[:3])
            raise click.BadParameter(
                f"{', '.join(unknown)} not in layer {lyr.name!r} v{lyr.version} "
                f"({len(known)} features, e.g. {sample})",
                param_hint="--id",
            )
        gdf = gdf[gdf["feature_id"].astype(str).isin(ids)]
        source = f"{lyr.name} v{lyr.version}"
    result = demarcation_stakes(gdf, interval_m=interval_m or None, zone=zone, id_column=id_column)
    write_stakes(result, out, overwrite=True)
    rings = (
        result.groupby(["feature_id", "part", "ring"], sort=False)
        .agg(
            stakes=("stake_id", "size"),
            vertices=("kind", lambda k: int((k == "vertex").sum())),
            perimeter_m=("ring_perimeter_m", "first"),
            gk_epsg=("gk_epsg", "first"),
        )
        .reset_index()
    )
    if as_json:
        echo_json(
            {
                "source": source,
                "out": str(out),
                "interval_m": interval_m,
                "stakes": len(result),
                "rings": rings.to_dict(orient="records"),
            }
        )
        return
    print_table(
        f"界桩 stakes — {source}",
        [
            "图斑 feature",
            "部分 part",
            "环 ring",
            "界桩 stakes",
            "拐点 vertices",
            "周长 perimeter (m)",
            "坐标系 CRS",
        ],
        [
            [
                r.feature_id,
                r.part,
                "外环" if r.ring == 0 else f"内环 {r.ring}",
                r.stakes,
                r.vertices,
                f"{r.perimeter_m:,.3f}",
                f"EPSG:{r.gk_epsg}",
            ]
            for r in rings.itertuples()
        ],
    )
    click.echo(f"{len(result)} stakes → {out}", err=True)
