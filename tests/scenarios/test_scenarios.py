"""Scenarios from the plan text, run through every interface with identical answers.

The expected verdicts, rules and access-list judgements are written in
``tests/scenarios/<pack>.toml`` from what the seed plans (../shared/seeds) and the laws
say, each with its citation (checked here against the seed line); sites are placed on
the demo store's features at test time (see ``_scenarios.py``). A scenario awaiting an
engine part names it in ``pending`` and is ``xfail(strict=True)`` until it lands.

Interfaces: the Python API one site at a time (``SiteChecker.check``) is the reference
answer, checked against the expectations; ``check_sites`` (all scenarios of a pack in
one batch), the dask engine, the CLI batch (``ecozone check FILE --out``, one run per
pack), the REST API (``POST /api/check`` on uvicorn) and a few single CLI runs in a
subprocess must give the same answer.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

from tests.scenarios import _answers as A
from tests.scenarios._scenarios import (
    ACTIVITIES,
    FILES,
    Scenario,
    area_inside_pct,
    exits_of,
    length_inside_pct,
    load_all,
    to_gcj02,
)
from tests.scenarios.conftest import site_of
from tests.zoning.test_pack import SEEDS, _norm
from zoning.check.result import VERDICTS
from zoning.pack import list_packs, load_pack

ALL = load_all()
_pack = functools.cache(load_pack)  # packs are immutable; load each once
IDS = [s.id for s in ALL]
REPO = Path(__file__).resolve().parents[2]


def _strict(sc: Scenario) -> list[pytest.MarkDecorator]:
    if sc.pending:
        return [pytest.mark.xfail(strict=True, reason=f"awaiting {sc.pending}")]
    return []


STRICT = [pytest.param(s.id, marks=_strict(s), id=s.id) for s in ALL]
PENDING = {s.id: s.pending for s in ALL if s.pending}


# --------------------------------------------------------------------------- the data itself


def test_at_least_60_scenarios_one_file_per_pack():
    assert len(ALL) >= 60
    for path in FILES:
        for s in ALL:
            if s.source_file == path.name:
                # a pack's file, or (national) a pack inheriting it
                lineage = _pack(s.pack).lineage
                assert path.stem == s.pack or path.stem in lineage, f"{s.id} in {path.name}"
    for s in ALL:
        given = [x for x in (s.verdict, s.error, s.verdict_in or None) if x is not None]
        assert len(given) == 1, f"{s.id}: give one of verdict, verdict_in, error"
        assert "compliant" not in s.verdict_in, f"{s.id}: verdict_in never allows compliant"
        assert s.verdict is None or s.verdict in VERDICTS, f"{s.id}: unknown verdict {s.verdict}"
        assert s.fires or s.error or s.access, f"{s.id}: nothing that must fire"
        act = s.project.get("activity")
        assert act is None or act in ACTIVITIES, f"{s.id}: unknown activity {act!r}"


def test_every_pack_has_scenarios():
    files = {s.source_file for s in ALL}
    for name in ("beijing", "tongzhou", "daxing", "jiangjin", "guangxi", "national"):
        assert f"{name}.toml" in files, name
        assert any(name in _pack(s.pack).lineage for s in ALL if s.source_file == f"{name}.toml")


def _signature(model: object) -> str:
    """A rule's or exception's definition without its citations (packs re-cite a
    shared rule with their own plan's line: it is still the same rule)."""

    def strip(d: object) -> object:
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "citations"}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    dump = model.model_dump() if hasattr(model, "model_dump") else vars(model)
    return json.dumps(strip(dump), sort_keys=True, default=str, ensure_ascii=False)


@functools.cache
def _covered() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(rule id, definition) fired and (exception id, definition) applied by some scenario."""
    rules, excs = set(), set()
    for s in ALL:
        try:
            pack = _pack(s.pack)
        except Exception:  # a pack not (yet) there covers nothing
            continue
        for f in s.fires:
            if any(r.id == f.rule for r in pack.rules):
                rules.add((f.rule, _signature(pack.rule(f.rule))))
        for r in pack.rules:
            for e in getattr(r, "exceptions", ()) or ():
                if e.id in s.exceptions and any(f.rule == r.id for f in s.fires):
                    excs.add((e.id, _signature(e)))
    return rules, excs


@pytest.mark.parametrize("pack", sorted(list_packs()))
def test_every_rule_of_every_pack_fires_in_a_scenario(pack):
    """Each distinct rule definition of the pack fires in some scenario."""
    rules, _ = _covered()
    missing = sorted(r.id for r in _pack(pack).rules if (r.id, _signature(r)) not in rules)
    assert not missing, f"{pack}: rules without a scenario: {missing}"


@pytest.mark.parametrize("pack", sorted(list_packs()))
def test_every_exception_of_every_pack_is_a_scenario(pack):
    """Each distinct exception definition of the pack applies in some scenario."""
    _, excs = _covered()
    missing = sorted(
        f"{r.id}/{e.id}" for r in _pack(pack).rules
        for e in getattr(r, "exceptions", ()) or () if (e.id, _signature(e)) not in excs
    )  # fmt: skip
    assert not missing, f"{pack}: exceptions without a scenario: {missing}"


def test_the_five_wrong_verdicts_of_the_issue_are_scenarios(scenarios):
    # 1. 0,0 with the beijing pack; 2. Jiangjin / Guangxi without data; 3. the C2641 paint
    # plant in the strict zone; 4. a linear project crossing a red line; 5. water supply
    for sid in ("bj-outside-0-0", "jj-no-data-insufficient", "gx-no-data-insufficient",
                "tz-paint-plant-strict-zone", "bj-redline-linear-exception",
                "bj-redline-water-supply-exception"):  # fmt: skip
        assert sid in scenarios, sid
    assert scenarios["bj-outside-0-0"].error == A.OUTSIDE
    assert scenarios["tz-paint-plant-strict-zone"].verdict == "prohibited"
    assert scenarios["bj-redline-linear-exception"].verdict == "restricted"


@pytest.mark.skipif(SEEDS is None, reason="seed plans (../shared/seeds) not present")
@pytest.mark.parametrize("sid", IDS)
def test_citations_are_on_the_cited_lines(sid, scenarios):
    """As tests/zoning/test_pack.py checks the packs: the quoted words are on the line."""
    for what, cit in scenarios[sid].citations():
        if not cit.is_seed:
            assert cit.article and cit.source, f"{sid} {what}: a law citation needs its article"
            continue
        path = SEEDS / cit.source
        assert path.is_file(), f"{sid} {what}: {cit.source} is not a seed file"
        lines = path.read_text(encoding="utf-8").splitlines()
        numbers = _lines(cit.line)
        assert all(1 <= n <= len(lines) for n in numbers), f"{sid} {what}: line beyond file"
        cited = _norm("".join(lines[n - 1] for n in numbers))
        for frag in cit.text.split("……"):
            assert _norm(frag) in cited, f"{sid} {what}: {frag!r} not on {cit.source} l.{cit.line}"


def _lines(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


# --------------------------------------------------------------------------- expectations


@pytest.mark.parametrize("sid", STRICT)
def test_scenario(sid, scenarios, placed, api_answers, frames):
    """The Python API gives what the plan says (verdict, rules, access-list judgements)."""
    sc = scenarios[sid]
    p = site_of(placed, sid)
    ans = api_answers[sid]
    if sc.error:
        assert ans == {"error": sc.error}, ans
        return
    assert "verdict" in ans, ans
    if sc.verdict_in:
        assert ans["verdict"] in sc.verdict_in, f"{ans['verdict']} (deciding {ans['deciding']})"
    else:
        assert ans["verdict"] == sc.verdict, f"{ans['verdict']} (deciding {ans['deciding']})"
    fired = set(ans["rules"])
    missing = [f.rule for f in sc.fires if f.rule not in fired]
    assert not missing, f"rules that must fire did not: {missing}; fired {sorted(fired)}"
    assert set(sc.deciding) <= set(ans["deciding"]), ans["deciding"]
    wrong = [r for r in sc.absent if r in fired]
    assert not wrong, f"rules that must not fire did: {wrong}"
    for kind in sc.notes:
        assert ans.get("notes") and kind in ans["notes"], f"no {kind} note: {ans.get('notes')}"
    for ex in sc.exceptions:
        assert ans.get("exceptions") and ex in ans["exceptions"], (
            f"exception {ex} did not apply; applied: {ans.get('exceptions')}"
        )
    for exp in sc.access:
        got = [
            j for unit, text, j in ans["access"]
            if _norm(exp.text) in _norm(text) and (exp.unit_code in (None, unit))
        ]  # fmt: skip
        assert got, f"access entry {exp.text!r} not attached; entries: {ans['access']}"
        assert exp.judgement in got, f"{exp.text!r}: judged {got}, expected {exp.judgement}"
    if sc.length_share_pct is not None:
        _check_length_share(sc, p, ans, frames)
    if sc.overlap_share:
        _check_overlap_share(sc, p, ans, frames)


def _check_length_share(sc, p, ans, frames):
    """The line's length inside the zone, as pyproj.Geod measures it."""
    layer = frames[sc.site["layer"]]
    near = layer.iloc[layer.sindex.query(p.geometry, predicate="intersects")]
    area = shapely.union_all(near.geometry.to_numpy())
    expected = length_inside_pct(p.geometry, area)
    assert expected == pytest.approx(sc.length_share_pct, abs=25), "scenario geometry drifted"
    shares = [
        f.get(k) for f in ans["_findings"] if f["rule_id"] in {x.rule for x in sc.fires}
        for k in ("length_pct", "length_share_pct", "length_share")
        if f.get(k) is not None
    ]  # fmt: skip
    assert shares, "no finding reports the line's length share inside the zone"
    assert shares[0] == pytest.approx(expected, abs=0.5)


def _check_overlap_share(sc, p, ans, frames):
    """The polygon's overlap with the zone, as a share of the site (pyproj.Geod areas)."""
    layer = frames[sc.site["layer"]]
    near = layer.iloc[layer.sindex.query(p.geometry, predicate="intersects")]
    expected = area_inside_pct(p.geometry, shapely.union_all(near.geometry.to_numpy()))
    rules = {x.rule for x in sc.fires}
    shares = [f["overlap_pct"] for f in ans["_findings"] if f["rule_id"] in rules]
    shares = [v for v in shares if v is not None]
    assert shares, "no finding reports the overlap share"
    assert shares[0] == pytest.approx(expected, abs=0.5)


# --------------------------------------------------------------------------- interfaces agree


def _agree(sid, reference, other, name):
    # the interfaces agree on every scenario, pending ones too (their answers may differ
    # from the plan's, but not from each other), unless the site cannot be placed yet
    ref = reference[sid]
    if "unsupported" in ref:
        pytest.xfail(ref["unsupported"])
    if sid in PENDING and ("exception" in ref or "unplaced" in ref):
        pytest.xfail(f"awaiting {PENDING[sid]}")
    assert "exception" not in ref and "unplaced" not in ref, ref
    assert sid in other, f"{name} gave no answer for {sid}"
    diffs = A.same({k: v for k, v in ref.items() if not k.startswith("_")}, other[sid])
    assert not diffs, f"{name} differs from SiteChecker.check: {diffs}"


@pytest.mark.parametrize("sid", IDS)
def test_check_sites_batch_agrees(sid, api_answers, batch_answers):
    _agree(sid, api_answers, batch_answers, "check_sites (batch)")


@pytest.mark.parametrize("sid", IDS)
def test_dask_engine_agrees(sid, api_answers, dask_answers):
    _agree(sid, api_answers, dask_answers, "zoning.check.distributed.check_sites_dask")


@pytest.mark.parametrize("sid", IDS)
def test_cli_batch_agrees(sid, api_answers, cli_batch_answers):
    _agree(sid, api_answers, cli_batch_answers, "ecozone check FILE --out")


@pytest.mark.parametrize("sid", IDS)
def test_rest_api_agrees(sid, api_answers, rest_answers):
    _agree(sid, api_answers, rest_answers, "POST /api/check")
    if api_answers[sid].get("error") == A.OUTSIDE:
        assert rest_answers[sid]["_status"] == 422  # a client error with the reason


#: Single CLI runs: the outside-jurisdiction error in a real process (exit code and
#: message as a user sees them), the paint plant and a GCJ-02 site in-process (CliRunner).
CLI_SINGLE = {
    "bj-outside-0-0": "subprocess",
    "tz-paint-plant-strict-zone": "clirunner",
    "tz-gcj02-strict-zone-construction": "clirunner",
}


@pytest.mark.parametrize("sid", list(CLI_SINGLE))
def test_cli_single_agrees(sid, scenarios, placed, api_answers, store_path):
    sc = scenarios[sid]
    p = site_of(placed, sid)
    ref = api_answers[sid]
    if "unsupported" in ref:
        pytest.xfail(ref["unsupported"])
    if sid in PENDING and ("exception" in ref or "unplaced" in ref):
        pytest.xfail(f"awaiting {PENDING[sid]}")
    geom = to_gcj02(p.geometry) if sc.coords == "gcj02" else p.geometry
    opts = A.cli_options(sc.project, exits_of(sc, p))
    args = ["check", "--at", shapely.to_wkt(geom, rounding_precision=9), "--pack", sc.pack,
            "--coords", sc.coords, "--store", str(store_path), "--json", *opts]  # fmt: skip
    if CLI_SINGLE[sid] == "subprocess":
        r = subprocess.run(
            [_ecozone(), *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )
        code, out, err = r.returncode, r.stdout, r.stderr
    else:
        from click.testing import CliRunner

        from ecozone.cli.main import cli

        r = CliRunner().invoke(cli, args)
        code, out, err = r.exit_code, r.stdout, r.output
    if ref.get("error"):
        assert code != 0, out[-500:]
        assert A.is_outside(err + out), err[-500:]
        return
    assert code == 0, err[-800:]
    got = A.from_site_dict(json.loads(out)["sites"][0])
    diffs = A.same({k: v for k, v in ref.items() if not k.startswith("_")}, got)
    assert not diffs, f"ecozone check --at differs from SiteChecker.check: {diffs}"


def _ecozone() -> str:
    exe = Path(sys.executable).with_name("ecozone")
    return str(exe) if exe.exists() else "ecozone"
