"""``ecozone ledger``: the pollution-source ledger of a key area (污染源台账)."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt, pack_opt, store_opt


@click.command()
@click.option(
    "--month",
    "months",
    multiple=True,
    metavar="YYYY-MM",
    help="Only this month (repeatable), e.g. 2025-06. Default: every month.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="ledger.xlsx (sheets sources, totals, pivot, by_type) or ledger.csv "
    "(+ .totals/.pivot/.by_type.csv).",
)
@pack_opt
@store_opt
@json_opt
@handle_errors
def ledger(
    months: tuple[str, ...], out: Path | None, pack: str, store: str | None, as_json: bool
) -> None:
    """Ledger of the pollution sources in the key area (重点区域污染源台账).

    \b
    Sources inside the key area (layer kind key_area, e.g. around an air-quality
    monitoring station) and its strict-control zones (strict_zone), with their
    monthly emissions: totals by month and pollutant per zone and overall
    (tonnes), and counts by source type. The pack's [ledger] table names the plan
    line that asks for the ledger and what its zones are called.

    \b
    Examples:
      ecozone ledger --month 2025-06
      ecozone ledger --out ledger.xlsx
    """
    from layers import open_store
    from zoning.pack import load_pack
    from zoning.tasks.ledger import key_area_ledger, write_ledger

    rule_pack = load_pack(pack)

    with open_store(store) as st:
        layers = [st.get_kind(k) for k in ("pollution_source", "key_area", "strict_zone")]
    result = key_area_ledger(*layers, month=list(months) or None, pack=rule_pack)
    written = write_ledger(result, out) if out is not None else []
    if as_json:
        payload = result.summary()
        payload["totals"] = result.totals.to_dict(orient="records")
        payload["by_type"] = result.by_type.to_dict(orient="records")
        payload["written"] = [str(p) for p in written]
        echo_json(payload)
        return
    period = (
        f"{result.months[0]} … {result.months[-1]}"
        if len(result.months) > 1
        else "".join(result.months)
    )
    for zone in ("all", "strict", "key"):
        pivot = result.pivot_for(zone)
        print_table(
            f"{result.zone_labels[zone]} 排放量 (t) {period}",
            ["月份 month", *pivot.columns],
            [
                [m, *(f"{v:,.4f}" for v in row)]
                for m, row in zip(pivot.index, pivot.to_numpy(), strict=True)
            ],
        )
    print_table(
        "污染源数量 sources by type",
        ["类型 type", result.zone_labels["strict"], result.zone_labels["key"], "合计"],
        result.by_type[["source_type", "strict", "key", "all"]].to_numpy().tolist(),
    )
    s = result.summary()
    duty = rule_pack.ledger
    source = f"; {duty.note or ''} ({duty.citation})" if duty is not None else ""
    click.echo(
        f"{s['sources']} sources in the key area ({s['sources_strict']} in the strict-"
        f"control zones){source}",
        err=True,
    )
    for p in written:
        click.echo(f"written {p}", err=True)
