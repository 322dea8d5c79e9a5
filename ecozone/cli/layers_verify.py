"""``ecozone layers verify``: read every version of every layer and check its checksum."""

from __future__ import annotations

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt, store_opt


@click.command("verify")
@store_opt
@json_opt
@handle_errors
def verify(store: str | None, as_json: bool) -> None:
    """Check every version of every layer against its checksum (图层库完整性检查).

    \b
    Reads each stored version (GeoPackage or PostGIS) and reports the ones whose
    content is damaged or was changed outside ecozone. Exit code 1 when any is.
    """
    from layers import open_store

    with open_store(store) as st:
        results = st.verify()
        where = str(st.path)
    damaged = [r for r in results if not r["ok"]]
    if as_json:
        echo_json({"store": where, "versions": results, "damaged": len(damaged)})
    else:
        print_table(
            f"layer versions in {where}",
            ["name", "version", "state"],
            [[r["name"], r["version"], "ok" if r["ok"] else "损坏 damaged"] for r in results],
        )
        for r in damaged:
            click.echo(f"damaged: {r['name']} v{r['version']}: {r['problem']}", err=True)
    if damaged:
        msg = (
            f"{len(damaged)} of {len(results)} layer versions are damaged; restore the store "
            "from a backup or re-import those layers"
        )
        raise click.ClickException(msg)
    if not as_json:
        click.echo(f"all {len(results)} layer versions verified", err=True)
