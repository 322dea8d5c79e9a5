"""``ecozone sources``: the plans, laws and standards the rule packs cite."""

from __future__ import annotations

import click

from ecozone.cli._output import echo_json, handle_errors, print_table
from ecozone.cli.options import json_opt


@click.group()
def sources() -> None:
    """The plans, laws and standards the rule packs cite (引用来源).

    \b
    Examples:
      ecozone sources list
      ecozone sources show beijing-14th-eco-plan --line 362
    The full texts are read from the folder named by $ECOZONE_SOURCES.
    """


@sources.command("list")
@json_opt
@handle_errors
def list_cmd(as_json: bool) -> None:
    """List every source record: id, kind, title, issuer, number, date."""
    from zoning.sources import load_sources, sources_folder

    records = [s.as_dict() for s in load_sources().values()]
    folder = sources_folder()
    for r in records:
        r["text_available"] = bool(r["file"] and folder and (folder / r["file"]).is_file())
    if as_json:
        echo_json(records)
        return
    rows = [
        [r["id"], r["kind"], f"《{r['title']}》", r["issuer"], r["number"] or "—", r["date"],
         "yes" if r["text_available"] else "—"]
        for r in records
    ]  # fmt: skip
    print_table("sources", ["id", "kind", "title", "issuer", "number", "date", "text"], rows)


@sources.command("show")
@click.argument("source_id")
@click.option("--line", type=click.IntRange(min=1), default=None, help="The cited line.")
@click.option(
    "--context",
    type=click.IntRange(min=0, max=200),
    default=8,
    show_default=True,
    help="Lines shown before and after --line.",
)
@json_opt
@handle_errors
def show(source_id: str, line: int | None, context: int, as_json: bool) -> None:
    """Print SOURCE_ID's record and its text around --line (the line marked with >>)."""
    from zoning.sources import get_source, source_excerpt

    src = get_source(source_id)
    stored = [h.heading for h in src.headings_at(line)] if line else []
    heads = src.official_headings_at(line) if line else []  # (the text: as stored)
    if as_json:
        lines = source_excerpt(src, line, context=context) if src.file else []
        echo_json(
            {
                **src.as_dict(),
                "line": line,
                "section": heads,
                "section_stored": stored,
                "lines": [{"line": n, "text": t, "cited": c} for n, t, c in lines],
            }
        )
        return
    click.echo(f"《{src.title}》 {src.title_en}")
    click.echo(" · ".join(x for x in (src.issuer, src.number, src.date) if x))
    if heads:
        click.echo("／".join(heads))
    if src.script_note():
        click.echo(src.script_note())
    if not src.file:
        click.echo("(ecozone holds this source's record and quoted passages, not its full text)")
        return
    lines = source_excerpt(src, line, context=context)  # SourceError: no text here
    for number, text, cited in lines:
        click.echo(f"{'>>' if cited else '  '} {number:>5}  {text}")
