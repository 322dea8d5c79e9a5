"""``ecozone measure FILE``: ellipsoidal area, perimeter and length per feature."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import coords_opt, crs_opt, json_opt, zone_opt


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@crs_opt
@coords_opt
@zone_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the features with area_m2, perimeter_m, length_m (.gpkg, .csv, ...).",
)
@json_opt
@handle_errors
def measure(
    path: Path,
    crs: str | None,
    coords_system: str,
    zone: int | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Measure every feature of PATH on the CGCS2000 ellipsoid (面积/周长/长度).

    Areas in m² and km², perimeters and lengths in metres, computed geodesically
    (never in degrees or Web Mercator). Any format ``read_vector`` accepts.
    """
    from geo.io import read_vector, write_vector
    from geo.io.writers import check_outputs
    from geo.measure import measure as measure_features

    check_outputs(path, {"--out": out})  # (the features are read back from PATH)
    gdf = read_vector(path, crs=crs, coords=coords_system, zone=zone)
    measured = measure_features(gdf)
    if out is not None:
        write_vector(measured, out)
        click.echo(f"{len(measured)} features written to {out}", err=True)
    records = [
        {
            "row": int(r["source_row"]) if "source_row" in measured.columns else i + 1,
            "geometry_type": r.geometry.geom_type if r.geometry is not None else None,
            "area_m2": float(r["area_m2"]),
            "perimeter_m": float(r["perimeter_m"]),
            "length_m": float(r["length_m"]),
        }
        for i, (_, r) in enumerate(measured.iterrows())
    ]
    totals = {k: float(measured[k].sum()) for k in ("area_m2", "perimeter_m", "length_m")}
    if as_json:
        echo_json(
            {
                "file": str(path),
                "features": records,
                "totals": totals,
                "issues": gdf.attrs.get("issues", []),
            }
        )
        return
    rows = [
        [
            rec["row"],
            rec["geometry_type"],
            f"{rec['area_m2']:,.2f}",
            f"{rec['area_m2'] / 1e6:,.6f}",
            f"{rec['perimeter_m']:,.2f}",
            f"{rec['length_m']:,.2f}",
        ]
        for rec in records[:200]
    ]
    print_table(
        f"{path.name}: {len(records)} features (ellipsoidal, CGCS2000)",
        ["row", "type", "area m²", "area km²", "perimeter m", "length m"],
        rows,
    )
    if len(records) > 200:
        click.echo(f"... {len(records) - 200} more rows; use --out or --json for all", err=True)
    click.echo(
        f"total: area {totals['area_m2']:,.2f} m² ({totals['area_m2'] / 1e6:,.4f} km²), "
        f"perimeter {totals['perimeter_m']:,.2f} m, length {totals['length_m']:,.2f} m"
    )
