"""``ecozone demo``: run every capability once on the embedded data."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import console, echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt, store_opt


@click.command()
@click.option(
    "--out",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ecozone-demo"),
    show_default=True,
    help="Output folder.",
)
@store_opt
@json_opt
@handle_errors
def demo(outdir: Path, store: str | None, as_json: bool) -> None:
    """Run the demo: a site report, coverage tables, maps and a raster (演示).

    Uses the embedded store: real boundaries and synthetic demonstration layers
    (演示数据，非官方 / demonstration data, not official).
    """
    from ecozone.demo import run_demo

    def step(message: str) -> None:
        if not as_json:
            console.print(f"[cyan]→[/] {message}")

    summary = run_demo(outdir, store=store, step=step)
    if as_json:
        echo_json(
            {
                "outdir": str(summary.outdir),
                "files": {k: str(v) for k, v in summary.files.items()},
                "verdict": summary.verdict,
                "findings": summary.findings,
                "coverage": {k: v.to_dict(orient="records") for k, v in summary.coverage.items()},
            }
        )
        return
    layers = summary.layers
    print_table(
        "embedded store (演示数据，非官方 / demonstration data, not official)",
        ["layer", "kind", "version", "features", "synthetic"],
        [
            [
                r.name,
                r.label_zh,
                r.version,
                f"{r.row_count:,}",
                "yes" if r.synthetic else "no (real)",
            ]
            for r in layers.itertuples()
        ],
    )
    console.print(
        f"sample site check (construction site in {summary.where_en}): "
        f"[bold]{summary.verdict_zh}[/] ({summary.verdict}), "
        f"{summary.findings} findings"
    )
    for name, table in summary.coverage.items():
        rows = [
            [
                r["label"],
                "—"
                if r["value"] is None or r["value"] != r["value"]
                else f"{r['value']:.2f} {r['unit']}",
                "—" if r["target"] is None else f"{r['comparison']} {r['target']}",
                r.get("nature_zh", ""),
                r.get("status_zh") or ("—" if r["met"] is None else ("✓" if r["met"] else "✗")),
            ]
            for r in table.to_dict(orient="records")
        ]
        print_table(f"coverage: {name}", ["指标", "现状值", "目标", "目标性质", "是否达标"], rows)
    console.print(f"\nall outputs are in [bold]{summary.outdir.resolve()}[/]:")
    here = Path.cwd().resolve()
    for key, path in summary.files.items():
        full = Path(path).resolve()  # one form for every file: relative to here if below it
        shown = full.relative_to(here) if full.is_relative_to(here) else full
        console.print(f"  {key:22s} {shown}")
