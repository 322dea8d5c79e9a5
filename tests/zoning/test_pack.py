"""Tests for zoning.pack: schema, loading, inheritance, citations and conditions."""

from __future__ import annotations

import itertools
import os
import re
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from geo.errors import PackError
from zoning.pack import (
    PACKS_DIR,
    Citation,
    Conditions,
    ParkService,
    ParkTier,
    iter_citations,
    list_packs,
    load_pack,
)
from zoning.project import FLAGS, PROJECT_TYPES, Project

REPO = Path(__file__).resolve().parents[2]
ADCODES = {
    "beijing": "110000",
    "tongzhou": "110112",
    "daxing": "110115",
    "jiangjin": "500116",
    "guangxi": "450000",
}


def _seeds_dir() -> Path | None:
    env = os.environ.get("ECOZONE_SEEDS")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "seeds"]:
        if cand.is_dir() and any(cand.glob("00*_*.txt")):
            return cand
    return None


SEEDS = _seeds_dir()
needs_seeds = pytest.mark.skipif(SEEDS is None, reason="seed plans (../shared/seeds) not present")


@pytest.fixture(scope="module")
def packs():
    return {name: load_pack(name) for name in list_packs()}


# --------------------------------------------------------------------------- loading


def test_list_packs():
    assert list_packs() == sorted(ADCODES)


@pytest.mark.parametrize("name", sorted(ADCODES), ids=sorted(ADCODES))
def test_every_pack_loads(name):
    pack = load_pack(name)
    assert pack.name == name
    assert pack.jurisdiction.adcode == ADCODES[name]
    assert pack.version
    assert any("\u4e00" <= ch <= "\u9fff" for ch in pack.title)
    assert pack.title_en.isascii()
    assert pack.rules, "a pack without rules checks nothing"
    assert pack.path == (PACKS_DIR / f"{name}.toml").resolve()
    # ids unique after inheritance
    assert len({r.id for r in pack.rules}) == len(pack.rules)
    assert len({t.id for t in pack.targets}) == len(pack.targets)


def test_load_by_path_equals_load_by_name():
    assert load_pack(PACKS_DIR / "beijing.toml") == load_pack("beijing")
    assert load_pack(str(PACKS_DIR / "tongzhou.toml")) == load_pack("tongzhou")


def test_unknown_pack_names_builtins():
    with pytest.raises(PackError, match=r"'shanghai' not found.*beijing, daxing, guangxi"):
        load_pack("shanghai")


# --------------------------------------------------------------------------- inheritance


def test_tongzhou_inherits_beijing(packs):
    bj, tz = packs["beijing"], packs["tongzhou"]
    assert tz.lineage == ("national", "beijing", "tongzhou")
    assert tz.inherits == "beijing"
    # Tongzhou restates Beijing's soil survey under its own id (tongzhou.soil.residential)
    assert tz.disable == ["soil.residential"]
    bj_ids = [r.id for r in bj.rules if r.id not in tz.disable]
    tz_ids = [r.id for r in tz.rules]
    assert set(bj_ids) <= set(tz_ids)
    # parent order kept, child's new rules after
    assert tz_ids[: len(bj_ids)] == bj_ids
    own = set(tz_ids) - set(bj_ids)
    assert {
        "tongzhou.strict.construction",
        "tongzhou.key.construction",
        "tongzhou.site_exit.200m",
    } <= own
    # inherited rule identical to the parent's (or amended: the parent's citations first)
    assert tz.rule("eco_control.inside") == bj.rule("eco_control.inside")
    bj_well, tz_well = bj.rule("well.30m.polluting"), tz.rule("well.30m.polluting")
    assert tz_well.citations[: len(bj_well.citations)] == bj_well.citations
    assert tz_well.model_copy(update={"citations": bj_well.citations}) == bj_well
    assert tz.park_service == bj.park_service


def test_tongzhou_overrides_by_id(packs):
    bj, tz = packs["beijing"], packs["tongzhou"]
    assert bj.rule("vocs.offset").feature_filter == {"adcode": ["110000"]}
    assert tz.rule("vocs.offset").feature_filter == {"adcode": ["110112"]}
    assert "减二增一" in tz.rule("vocs.offset").requirement
    assert "减二增一" not in bj.rule("vocs.offset").requirement
    # target override by id
    assert bj.target("sponge.share").value == 40.0
    assert tz.target("sponge.share").value == 45.0
    assert tz.target("sponge.share").year == 2024


def test_inherited_targets_keep_their_municipal_scope(packs):
    bj, tz, dx = packs["beijing"], packs["tongzhou"], packs["daxing"]
    # a district pack inherits Beijing's targets with Beijing's scope: measured with
    # the district pack they are contributions, never judged for the district
    assert {t.id for t in bj.targets} <= {t.id for t in tz.targets}
    assert {t.id for t in tz.targets} - {t.id for t in bj.targets} == {"forest.sub_centre"}
    for p in (tz, dx):
        assert p.scope(p.target("redline.share").scope).adcodes == ["110000"]
        assert p.scope(p.target("park.area_per_person").scope).adcodes == ["110000"]
    # Tongzhou's own targets are set for Tongzhou
    assert tz.target("sponge.share").scope == "district_built_up"
    assert tz.scope("district_built_up").within == "jurisdiction"
    assert tz.scope("sub_centre").adcodes == tz.jurisdiction.adcodes
    assert {t.id for t in dx.targets} == {t.id for t in bj.targets}
    assert dx.lineage == ("national", "beijing", "daxing")
    assert {r.id for r in packs["beijing"].rules} < {r.id for r in dx.rules}


def test_jiangjin_and_guangxi_inherit_the_national_pack(packs):
    for name in ("jiangjin", "guangxi"):
        p = packs[name]
        assert p.inherits == "national"
        assert p.lineage == ("national", name)
        ids = {r.id for r in p.rules}
        assert {"redline.inside", "redline.temporary", "water_source.grade1"} <= ids
        assert {"water_source.grade2.polluting", "control_unit.access"} <= ids
        # the Yangtze law reaches both (Guangxi has counties in the Yangtze basin)
        assert {"yangtze.chemical_1km", "yangtze.chemical_1km.industry"} <= ids
        # the 30 m well rule is Beijing's, not national
        assert not any(i.startswith("well.") for i in ids)
        assert p.targets == []  # their seeds give no spatial target


# --------------------------------------------------------------------------- the national pack

NATIONAL_RULES = {
    "water_source.grade1",
    "water_source.grade1.supply",
    "water_source.grade2.polluting",
    "water_source.grade2",
    "water_source.quasi.polluting",
    "water_source.quasi",
    "water_source.nearest",
    "nature_reserve.core_buffer",
    "nature_reserve.experimental.polluting",
    "nature_reserve.experimental",
    "nature_reserve.general_control",
    "nature_reserve.nearest",
}
YANGTZE_RULES = {
    "yangtze.chemical_1km",
    "yangtze.chemical_1km.industry",
    "yangtze.tailings.mainstream_3km",
    "yangtze.tailings.tributary_1km",
}


def test_national_pack_is_abstract_and_cites_only_laws():
    nat = load_pack("national")
    assert nat.abstract
    assert "national" not in list_packs()
    assert "national" in list_packs(include_abstract=True)
    assert {r.id for r in nat.rules} == NATIONAL_RULES | YANGTZE_RULES
    for owner, cit in iter_citations(nat):
        assert not cit.is_seed, f"{owner}: the national pack cites laws, not plans"
        assert cit.law and cit.article, owner
    # every layer kind its rules read is registered and documented
    assert nat.layer_kinds() == {"water_source_zone", "river", "nature_reserve"}
    docs = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for kind in nat.layer_kinds() | {"nonroad_ban_zone"}:
        assert f"`{kind}`" in docs, f"layer kind {kind} not documented in docs/rules.md"


@pytest.mark.parametrize("name", sorted(ADCODES), ids=sorted(ADCODES))
def test_every_pack_inherits_the_national_rules(name, packs):
    p = packs[name]
    nat = load_pack("national")
    assert p.lineage[0] == "national"
    assert not p.abstract  # abstract is not inherited
    ids = {r.id for r in p.rules}
    beijing_family = "beijing" in p.lineage
    # Beijing is not in the Yangtze basin (长江保护法 第二条): its family disables those rules
    assert NATIONAL_RULES <= ids
    assert (YANGTZE_RULES <= ids) != beijing_family
    assert not (YANGTZE_RULES & ids) or not beijing_family
    for rid in NATIONAL_RULES:
        mine, base = p.rule(rid), nat.rule(rid)
        # the law's citations come first, the plans' lines are only added ([[amend]])
        assert mine.citations[: len(base.citations)] == base.citations
        assert mine.model_copy(update={"citations": base.citations}) == base
    # no jurisdiction repeats a national rule in its own file
    own = tomllib.loads((PACKS_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    assert not NATIONAL_RULES & {r["id"] for r in own.get("rules", [])}


def test_plan_lines_are_added_to_national_rules(packs):
    def seed_lines(pack, rid):
        return {(c.source[:3], c.line) for c in packs[pack].rule(rid).citations if c.is_seed}

    assert seed_lines("beijing", "water_source.grade1") == {("001", "296")}
    assert seed_lines("tongzhou", "water_source.grade1") == {("001", "296"), ("002", "266-270")}
    assert seed_lines("daxing", "water_source.grade1") == {("001", "296"), ("000", "33")}
    assert seed_lines("jiangjin", "water_source.grade1") == {("003", "26")}
    assert seed_lines("guangxi", "water_source.grade1") == {("004", "26")}
    assert ("003", "34") in seed_lines("jiangjin", "nature_reserve.core_buffer")
    assert ("001", "370") in seed_lines("beijing", "nature_reserve.core_buffer")
    assert seed_lines("guangxi", "nature_reserve.core_buffer") == set()


def test_tongzhou_plan_lines_live_in_the_tongzhou_pack_only(packs):
    # 002 is Tongzhou's work plan: only the tongzhou pack may cite it
    for name, p in packs.items():
        cites_002 = {o for o, c in iter_citations(p) if c.source.startswith("002_")}
        if name == "tongzhou":
            assert {"redline.inside", "well.30m.polluting", "water_source.grade1"} <= cites_002
        else:
            assert not cites_002, f"{name} cites Tongzhou's plan for {sorted(cites_002)}"
    # and Daxing's plan (000) only the daxing pack
    for name, p in packs.items():
        if name != "daxing":
            assert not any(c.source.startswith("000_") for _, c in iter_citations(p)), name


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


HEAD = """
name = "{name}"
version = "1"
title = "测试"
title_en = "test"
[jurisdiction]
name = "测试"
name_en = "test"
adcodes = ["110000"]
"""

RULE = """
[[rules]]
id = "{id}"
layer = "{layer}"
predicate = "within_distance"
distance_m = {distance}
outcome = "{outcome}"
section = "quality_floor"
title = "标题"
title_en = "title"
requirement = "要求"
requirement_en = "requirement"
[[rules.citations]]
source = "001_1c6d450321da7557.txt"
line = "296"
"""


def _head(name: str, *, inherits: str | None = None, disable: list[str] | None = None) -> str:
    extra = f'inherits = "{inherits}"\n' if inherits else ""
    if disable is not None:
        extra += "disable = [" + ", ".join(f'"{d}"' for d in disable) + "]\n"
    # top-level keys must come before the first table
    return extra + HEAD.format(name=name)


def _rule_with(line: str) -> str:
    """A valid rule plus one extra top-level line."""
    return _rule().replace('outcome = "requirements"', f'outcome = "requirements"\n{line}')


def _rule(id="well.30m", layer="well", distance="30.0", outcome="requirements"):
    return RULE.format(id=id, layer=layer, distance=distance, outcome=outcome)


def test_child_overrides_and_disables_in_tmp(tmp_path):
    _write(
        tmp_path,
        "parent",
        _head("parent") + _rule("a.one") + _rule("a.two") + _rule("a.three"),
    )
    child = _write(
        tmp_path,
        "child",
        _head("child", inherits="parent", disable=["a.two"])
        + _rule("a.one", distance="50.0")
        + _rule("b.new"),
    )
    pack = load_pack(child)
    assert [r.id for r in pack.rules] == ["a.one", "a.three", "b.new"]
    assert pack.rule("a.one").distance_m == 50.0
    assert pack.rule("a.three").distance_m == 30.0
    assert pack.lineage == ("parent", "child")
    assert pack.disable == ["a.two"]


def test_child_inherits_park_service_unless_given(tmp_path):
    _write(
        tmp_path,
        "p",
        HEAD.format(name="p")
        + "[park_service]\ntiers = [{ min_area_m2 = 10000.0, radius_m = 800.0 }]\n",
    )
    c1 = _write(tmp_path, "c1", _head("c1", inherits="p"))
    assert load_pack(c1).park_service.tiers == [ParkTier(min_area_m2=10000.0, radius_m=800.0)]
    c2 = _write(
        tmp_path,
        "c2",
        _head("c2", inherits="p")
        + "[park_service]\ntiers = [{ min_area_m2 = 1.0, radius_m = 100.0 }]\n",
    )
    assert load_pack(c2).park_service.radius_for(5.0).tolist() == 100.0


def test_child_of_builtin_pack(tmp_path):
    path = _write(
        tmp_path,
        "mytown",
        _head("mytown", inherits="tongzhou"),
    )
    pack = load_pack(path)
    assert pack.lineage == ("national", "beijing", "tongzhou", "mytown")
    assert {r.id for r in pack.rules} == {r.id for r in load_pack("tongzhou").rules}


# --------------------------------------------------------------------------- schema errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _rule(distance="-3"),
            r"bad\.toml: rule 'well\.30m': field 'distance_m': must be > 0 \(got -3\)",
        ),
        (
            _rule(layer="wel"),
            r"rule 'well\.30m': field 'layer': must be one of .*'well'.*\(got 'wel'\)",
        ),
        (
            _rule(outcome="forbidden"),
            r"rule 'well\.30m': field 'outcome': must be one of .*'prohibited'.*"
            r"\(got 'forbidden'\)",
        ),
        (
            _rule() + 'colour = "red"\n',
            r"rule 'well\.30m': field 'citations\[0\]\.colour': unknown field \(got 'red'\)",
        ),
        (
            _rule().replace('outcome = "requirements"', 'outcome = "requirements"\nradius = 3'),
            r"rule 'well\.30m': field 'radius': unknown field",
        ),
        (_rule() + _rule(), r"rule 'well\.30m': field 'id': duplicate id"),
        (
            _rule(id="Well 30m"),
            r"rule 'Well 30m': field 'id': must match",
        ),
        (
            _rule().replace("distance_m = 30.0\n", ""),
            r"rule 'well\.30m': .*'within_distance' needs 'distance_m'",
        ),
        (
            _rule().replace('"within_distance"', '"intersects"'),
            r"rule 'well\.30m': .*'distance_m' is only for",
        ),
        (
            _rule().replace('"within_distance"', '"nearest"'),
            r"rule 'well\.30m': .*outcome must be 'information'",
        ),
        (
            _rule().replace('line = "296"', 'line = "two"'),
            r"field 'citations\[0\]\.line': must be a line number or range",
        ),
        (
            _rule().replace('line = "296"\n', ""),
            r"rule 'well\.30m': field 'citations\[0\]': a seed citation .* needs 'line'",
        ),
        (
            _rule().replace('source = "001_1c6d450321da7557.txt"', 'source = "水污染防治法"'),
            r"'line' is only for seed files",
        ),
        (
            _rule().replace(
                'outcome = "requirements"', 'outcome = "requirements"\naccess_list = true'
            ),
            r"'access_list = true' only works on layer 'control_unit'",
        ),
        (
            _rule().replace(
                'outcome = "requirements"', 'outcome = "requirements"\nunless_layer = "well"'
            ),
            r"'unless_layer' 'well' is the rule's own layer",
        ),
        (
            _rule().replace(
                'outcome = "requirements"', 'outcome = "requirements"\nunless_layer = "zoo"'
            ),
            r"field 'unless_layer': must be one of",
        ),
        (
            _rule() + '[rules.when]\nflags_any = ["smoke"]\n',
            r"rule 'well\.30m': field 'when\.flags_any\[0\]': must be one of .*\(got 'smoke'\)",
        ),
        (
            _rule() + '[rules.when]\nproject_types = ["factory"]\n',
            r"field 'when\.project_types\[0\]': must be one of",
        ),
        (
            _rule() + '[rules.when]\nindustry_prefixes = ["26"]\n',
            r"industry prefix '26' is not a GB/T 4754 code prefix",
        ),
        (
            _rule() + "[rules.when]\nwhen_raining = true\n",
            r"field 'when\.when_raining': unknown field",
        ),
        (
            '[[targets]]\nid = "t.one"\nmetric = "forest_share"\nvalue = 145.0\nunit = "%"\n'
            'label = "x"\nlabel_en = "x"\n[targets.citation]\nsource = "001_1c6d450321da7557.txt"\n'
            'line = "378"\n',
            r"target 't\.one': a share must be <= 100 %",
        ),
        (
            '[[targets]]\nid = "t.one"\nmetric = "happiness"\nvalue = 1.0\nunit = "%"\n'
            'label = "x"\nlabel_en = "x"\n[targets.citation]\nsource = "001_1c6d450321da7557.txt"\n'
            'line = "378"\n',
            r"target 't\.one': field 'metric': must be one of",
        ),
        (
            '[[targets]]\nid = "t.one"\nmetric = "park_area_per_person"\nvalue = 16.7\nunit = "%"\n'
            'label = "x"\nlabel_en = "x"\n[targets.citation]\nsource = "001_1c6d450321da7557.txt"\n'
            'line = "382"\n',
            r"target 't\.one': .*unit 'm2/person'",
        ),
        (
            "[park_service]\ntiers = [{ min_area_m2 = 5000.0, radius_m = 0.0 }]\n",
            r"field 'park_service\.tiers\[0\]\.radius_m': must be > 0",
        ),
    ],
    ids=[
        "negative-distance",
        "unknown-layer",
        "unknown-outcome",
        "unknown-field-in-citation",
        "unknown-field-in-rule",
        "duplicate-id",
        "bad-id",
        "within-distance-without-distance",
        "distance-on-intersects",
        "nearest-not-information",
        "bad-line",
        "seed-without-line",
        "law-with-line",
        "access-list-wrong-layer",
        "unless-own-layer",
        "unless-unknown-layer",
        "unknown-flag",
        "unknown-project-type",
        "bad-industry-prefix",
        "unknown-condition",
        "share-over-100",
        "unknown-metric",
        "wrong-unit",
        "zero-radius",
    ],
)
def test_schema_errors_name_file_item_and_field(tmp_path, body, expected):
    path = _write(tmp_path, "bad", HEAD.format(name="bad") + body)
    with pytest.raises(PackError, match=expected) as info:
        load_pack(path)
    assert "bad.toml" in str(info.value)


def test_unknown_top_level_field(tmp_path):
    path = _write(tmp_path, "bad", 'colour = "red"\n' + HEAD.format(name="bad"))
    with pytest.raises(PackError, match=r"bad\.toml: field 'colour': unknown field \(got 'red'\)"):
        load_pack(path)


def test_missing_required_fields(tmp_path):
    path = _write(tmp_path, "bad", 'name = "bad"\n')
    with pytest.raises(PackError) as info:
        load_pack(path)
    msg = str(info.value)
    for field in ("version", "title", "title_en", "jurisdiction"):
        assert f"field '{field}': required field is missing" in msg


def test_all_problems_reported_at_once(tmp_path):
    body = _rule(id="a.one", distance="-1") + _rule(id="a.two", layer="wel")
    path = _write(tmp_path, "bad", HEAD.format(name="bad") + body)
    with pytest.raises(PackError, match="2 problems") as info:
        load_pack(path)
    assert "rule 'a.one': field 'distance_m'" in str(info.value)
    assert "rule 'a.two': field 'layer'" in str(info.value)


def test_error_in_child_names_child_file(tmp_path):
    _write(tmp_path, "parent", HEAD.format(name="parent") + _rule("a.one"))
    child = _write(
        tmp_path,
        "child",
        _head("child", inherits="parent") + _rule("a.one", distance="-5"),
    )
    with pytest.raises(PackError, match=r"child\.toml: rule 'a\.one': field 'distance_m'"):
        load_pack(child)


def test_missing_parent(tmp_path):
    path = _write(tmp_path, "orphan", _head("orphan", inherits="nobody"))
    with pytest.raises(PackError, match=r"orphan\.toml: field 'inherits': parent pack 'nobody'"):
        load_pack(path)


def test_cyclic_inheritance(tmp_path):
    _write(tmp_path, "a", _head("a", inherits="b"))
    _write(tmp_path, "b", _head("b", inherits="c"))
    _write(tmp_path, "c", _head("c", inherits="a"))
    with pytest.raises(
        PackError, match=r"cyclic inheritance \(.*a\.toml -> .*b\.toml -> .*c\.toml"
    ):
        load_pack(tmp_path / "a.toml")


def test_self_inheritance(tmp_path):
    path = _write(tmp_path, "me", _head("me", inherits="me"))
    with pytest.raises(PackError, match="cyclic inheritance"):
        load_pack(path)


def test_disable_unknown_id(tmp_path):
    _write(tmp_path, "parent", HEAD.format(name="parent") + _rule("a.one"))
    child = _write(
        tmp_path,
        "child",
        _head("child", inherits="parent", disable=["a.nine"]),
    )
    with pytest.raises(PackError, match=r"field 'disable': \['a\.nine'\] are not rules or targets"):
        load_pack(child)


def test_disable_and_redefine_is_an_error(tmp_path):
    _write(tmp_path, "parent", HEAD.format(name="parent") + _rule("a.one"))
    child = _write(
        tmp_path,
        "child",
        _head("child", inherits="parent", disable=["a.one"]) + _rule("a.one"),
    )
    with pytest.raises(PackError, match=r"rule 'a\.one': field 'id': both disabled and redefined"):
        load_pack(child)


def test_invalid_toml(tmp_path):
    path = _write(tmp_path, "broken", 'name = "broken\n')
    with pytest.raises(PackError, match=r"broken\.toml: not valid TOML"):
        load_pack(path)


def test_missing_file(tmp_path):
    with pytest.raises(PackError, match="not found"):
        load_pack(tmp_path / "nothing.toml")


# --------------------------------------------------------------------------- citations


def test_citation_forms():
    seed = Citation(source="002_735b581d06638fbb.txt", line="672-674", text="x")
    assert seed.is_seed
    assert seed.lines() == [672, 673, 674]
    assert "002_735b581d06638fbb.txt" in str(seed)
    assert "672-674" in str(seed)
    assert Citation(source="001_1c6d450321da7557.txt", line="59,148").lines() == [59, 148]
    assert Citation(source="001_1c6d450321da7557.txt", line=148).line == "148"
    law = Citation(
        source="中华人民共和国水污染防治法",
        law="Water Pollution Prevention Law",
        article="第六十五条",
    )
    assert not law.is_seed
    assert law.lines() == []
    assert str(law) == "《中华人民共和国水污染防治法》第六十五条 (Water Pollution Prevention Law)"


def _norm(text: str) -> str:
    # the seeds mix ASCII and full-width punctuation; compare the words only
    return re.sub(r"[\s,，。;；:：、“”\"'()（）《》!！?？·.]", "", text)


@needs_seeds
@pytest.mark.parametrize("name", sorted(ADCODES), ids=sorted(ADCODES))
def test_citations_point_at_existing_seed_lines(name):
    pack = load_pack(name)
    seen = 0
    for owner, cit in iter_citations(pack):
        if not cit.is_seed:
            assert cit.article, owner
            continue
        path = SEEDS / cit.source
        assert path.is_file(), f"{owner}: {cit.source} is not a seed file"
        lines = path.read_text(encoding="utf-8").splitlines()
        numbers = cit.lines()
        for n in numbers:
            assert 1 <= n <= len(lines), f"{owner}: line {n} beyond {cit.source}"
        for n in (numbers[0], numbers[-1]):  # a range may span blank lines, not end on one
            assert lines[n - 1].strip(), f"{owner}: {cit.source} line {n} is blank"
        # the quoted text (fragments separated by ……) is on the cited lines
        cited = _norm("".join(lines[n - 1] for n in cit.lines()))
        assert cit.text, f"{owner}: seed citation without quoted text"
        for frag in cit.text.split("……"):
            assert _norm(frag) in cited, f"{owner}: {frag!r} not on {cit.source} l.{cit.line}"
        seen += 1
    assert seen > 0


@needs_seeds
def test_clue_duty_citation_points_at_the_plan_lines():
    """The red-line clue check's source is pack data ([clues]) and names real plan lines."""
    duty = load_pack("tongzhou").clues
    assert duty is not None
    m = re.fullmatch(r"(\d{3}_[0-9a-f]{16}\.txt) 第(\d+)–(\d+)行 \(l\.\2–\3\)", duty.citation)
    assert m, duty.citation
    lines = (SEEDS / m.group(1)).read_text(encoding="utf-8").splitlines()
    cited = _norm("".join(lines[int(m.group(2)) - 1 : int(m.group(3))]))
    assert _norm("人类活动问题线索核实处理") in cited
    assert _norm(duty.note) in cited  # the pack's wording of the duty is the plan's
    # a pack whose plan names no clue check has none (Beijing's city plan does not)
    assert load_pack("beijing").clues is None


@needs_seeds
@pytest.mark.parametrize(
    ("pack", "kind", "item", "keyword"),
    [
        ("beijing", "rule", "well.30m.polluting", "30米"),
        ("beijing", "rule", "well.30m.requirement", "30米"),
        ("beijing", "rule", "redline.inside", "紅線"),
        ("beijing", "rule", "eco_control.inside", "只降不升"),
        ("beijing", "target", "redline.share", "26.1"),
        ("beijing", "target", "eco_control.share", "75%"),
        ("beijing", "target", "forest.share", "45%"),
        ("beijing", "target", "forest.plains", "32%"),
        ("beijing", "target", "park.service_coverage", "90%"),
        ("beijing", "target", "park.area_per_person", "16.7"),
        ("beijing", "target", "sponge.share", "40%"),
        ("tongzhou", "target", "sponge.share", "45%"),
        ("tongzhou", "target", "forest.sub_centre", "36.5%"),
        ("tongzhou", "rule", "tongzhou.strict.construction", "严控区"),
        ("tongzhou", "rule", "tongzhou.key.construction", "严控区外"),
        ("tongzhou", "rule", "tongzhou.strict.muck_trucks", "8条道路"),
        ("tongzhou", "rule", "tongzhou.site_exit.200m", "200米"),
        ("tongzhou", "rule", "redline.temporary", "临时用地"),
        ("daxing", "rule", "daxing.park.nature_belt", "10%"),
        ("jiangjin", "rule", "redline.inside", "生态保护红线"),
        ("guangxi", "rule", "control_unit.access", "三线一单"),
        # the rules added in #11 §4
        ("beijing", "rule", "nonroad.ban_zone", "禁止使用高排放非道路移動機械區域"),
        ("beijing", "rule", "capacity.steel_coking", "不再新增鋼鐵、焦化等産能"),
        ("beijing", "rule", "capacity.steel_coking.industry", "傳輸通道城市"),
        ("beijing", "rule", "soil.residential", "用途變更地塊依法開展土壤污染狀況調查"),
        ("beijing", "rule", "nature_reserve.core_buffer", "自然保護地內建設項目負面清單"),
        ("daxing", "rule", "soil.residential", "用途变更"),
        ("tongzhou", "rule", "tongzhou.soil.residential", "用途变更为住宅"),
        ("tongzhou", "rule", "vocs.offset", "NOx"),
        ("tongzhou", "rule", "tongzhou.key.new_source", "逐步削减重点区域内污染源数量"),
        ("guangxi", "rule", "guangxi.heavy_metal", "涉镉"),
        ("guangxi", "rule", "guangxi.heavy_metal.industry", "强化涉重金属源头防控"),
        ("guangxi", "rule", "guangxi.solid_waste.red_mud", "赤泥、锰渣"),
        ("jiangjin", "rule", "nature_reserve.core_buffer", "自然保护区"),
        ("jiangjin", "rule", "yangtze.chemical_1km", "长江干流江津段"),
    ],
)
def test_key_citations_contain_keyword(pack, kind, item, keyword):
    p = load_pack(pack)
    cits = p.rule(item).citations if kind == "rule" else [p.target(item).citation]
    texts = []
    for cit in cits:
        if cit.is_seed:
            lines = (SEEDS / cit.source).read_text(encoding="utf-8").splitlines()
            texts.extend(lines[n - 1] for n in cit.lines())
    assert any(keyword in t for t in texts), f"{item}: {keyword!r} not on its cited lines"


def test_every_rule_cites_a_seed_or_law(packs):
    for pack in packs.values():
        for rule in pack.rules:
            assert rule.citations
            assert rule.requirement and rule.requirement_en
            assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.requirement), rule.id
            assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.title), rule.id


def test_water_source_rules_cite_the_law(packs):
    for pack in packs.values():
        arts = {
            "water_source.grade1": "第六十五条",
            "water_source.grade2.polluting": "第六十六条",
            "water_source.quasi.polluting": "第六十七条",
        }
        for rid, art in arts.items():
            rule = pack.rule(rid)
            assert any(
                c.source == "中华人民共和国水污染防治法" and art in (c.article or "")
                for c in rule.citations
            ), (pack.name, rid)


# --------------------------------------------------------------------------- park service tiers


def test_park_service_default_tiers():
    ps = ParkService()
    radii = ps.radius_for([1e6, 5000.0, 4999.9, 2000.0, 1999.9, 0.0])
    np.testing.assert_array_equal(radii, [500.0, 500.0, 300.0, 300.0, 0.0, 0.0])
    assert ps.max_radius_m == 500.0
    assert "50563" in (ps.citation.law or "")


def test_park_service_tiers_sorted_and_configurable():
    ps = ParkService(
        tiers=[
            ParkTier(min_area_m2=1000.0, radius_m=200.0),
            ParkTier(min_area_m2=100000.0, radius_m=1000.0),
        ]
    )
    assert [t.min_area_m2 for t in ps.tiers] == [100000.0, 1000.0]
    assert ps.radius_for(np.array([[2e5, 5e3], [10.0, 1000.0]])).tolist() == [
        [1000.0, 200.0],
        [0.0, 200.0],
    ]
    with pytest.raises(ValueError, match="same min_area_m2"):
        ParkService(tiers=[ParkTier(min_area_m2=1.0, radius_m=1.0)] * 2)


def test_beijing_park_tiers_are_gb50563(packs):
    assert packs["beijing"].park_service.tiers == ParkService().tiers


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("cond", "yes", "no"),
    [
        (Conditions(), Project(), None),
        (
            Conditions(project_types=["construction", "linear"]),
            Project(project_type="linear"),
            Project(project_type="residential"),
        ),
        (Conditions(project_types=["construction"]), Project(project_type="施工"), Project()),
        (
            Conditions(industry_prefixes=["c26", "B091"]),
            Project(industry_code="C2614"),
            Project(industry_code="C2710"),
        ),
        (Conditions(industry_prefixes=["C"]), Project(industry_code="C"), Project()),
        (
            Conditions(flags_any=["sewage", "manure"]),
            Project(flags={"manure", "vocs"}),
            Project(flags={"vocs"}),
        ),
        (
            Conditions(flags_none=["sewage", "manure"]),
            Project(flags={"vocs"}),
            Project(flags={"sewage"}),
        ),
        (
            Conditions(development="expansion"),
            Project(development="expansion"),
            Project(development="new"),
        ),
        (
            Conditions(temporary_land_use=True),
            Project(temporary_land_use=True),
            Project(temporary_land_use=False),
        ),
        (
            Conditions(temporary_land_use=False),
            Project(),
            Project(temporary_land_use=True),
        ),
        (Conditions(water_supply=True), Project(water_supply=True), Project()),
        (Conditions(water_supply=False), Project(), Project(water_supply=True)),
        (
            Conditions(project_types=["industrial"], flags_any=["vocs"], development="new"),
            Project(project_type="industrial", flags={"vocs"}),
            Project(project_type="industrial", flags={"vocs"}, development="expansion"),
        ),
    ],
    ids=[
        "empty",
        "project_types",
        "project_types-unknown",
        "industry_prefixes",
        "industry-missing",
        "flags_any",
        "flags_none",
        "development",
        "temporary-true",
        "temporary-false",
        "water_supply-true",
        "water_supply-false",
        "all-must-hold",
    ],
)
def test_conditions_applies_to(cond, yes, no):
    assert cond.applies_to(yes) is True
    if no is not None:
        assert cond.applies_to(no) is False


def test_conditions_none_project_is_default_project():
    cond = Conditions(flags_none=["sewage"], temporary_land_use=False)
    assert cond.applies_to(None) is True
    assert Conditions(project_types=["industrial"]).applies_to(None) is False


def test_conditions_describe():
    assert Conditions().describe() == "任何项目"
    text = Conditions(project_types=["industrial"], flags_none=["sewage"]).describe()
    assert PROJECT_TYPES["industrial"] in text
    assert FLAGS["sewage"] in text


def test_rule_applies_to_and_rules_for(packs):
    bj = packs["beijing"]
    factory = Project(project_type="industrial", flags={"wastewater"})
    assert bj.rule("well.30m.polluting").applies_to(factory)
    assert not bj.rule("well.30m.requirement").applies_to(factory)
    ids = {r.id for r in bj.rules_for(factory)}
    assert "industry.catalogue" in ids
    assert "park.service" not in ids
    assert {r.id for r in bj.rules_for(None)} == {r.id for r in bj.rules if r.applies_to(None)}


_ALL_FLAGS = sorted(FLAGS)
_PROJECTS = [
    Project(flags=set(fl), water_supply=ws, temporary_land_use=tmp, development=dev)
    for n in range(len(_ALL_FLAGS) + 1)
    for fl in itertools.combinations(_ALL_FLAGS, n)
    for ws in (False, True)
    for tmp in (False, True)
    for dev in ("new", "expansion")
]


@pytest.mark.parametrize("name", sorted(ADCODES), ids=sorted(ADCODES))
def test_complementary_rules_exactly_one_applies(name):
    """For every project, exactly one of each complementary pair fires on the same features."""
    pack = load_pack(name)
    ids = {r.id for r in pack.rules}
    pairs = [
        ("redline.inside", "redline.temporary"),
        ("water_source.grade1", "water_source.grade1.supply"),
        ("water_source.grade2.polluting", "water_source.grade2"),
        ("water_source.quasi.polluting", "water_source.quasi"),
    ]
    if "well.30m.polluting" in ids:
        pairs.append(("well.30m.polluting", "well.30m.requirement"))
    for a, b in pairs:
        ra, rb = pack.rule(a), pack.rule(b)
        assert ra.layer == rb.layer and ra.feature_filter == rb.feature_filter
        for p in _PROJECTS:
            assert ra.applies_to(p) != rb.applies_to(p), (a, b, p)


def test_water_source_semantics(packs):
    bj = packs["beijing"]
    grade1 = bj.rule("water_source.grade1")
    assert grade1.feature_filter == {"grade": ["1"]}
    assert grade1.outcome == "prohibited"
    assert not grade1.applies_to(Project(water_supply=True))
    assert bj.rule("water_source.grade1.supply").outcome == "requirements"
    grade2 = bj.rule("water_source.grade2.polluting")
    assert grade2.feature_filter == {"grade": ["2"]}
    assert grade2.outcome == "prohibited"
    for flag in ("wastewater", "sewage"):
        assert grade2.applies_to(Project(flags={flag}))
        assert grade2.applies_to(Project(flags={flag}, development="expansion"))
    assert bj.rule("water_source.quasi.polluting").feature_filter == {"grade": ["quasi"]}


def test_redline_rules(packs):
    for pack in packs.values():
        inside = pack.rule("redline.inside")
        temp = pack.rule("redline.temporary")
        assert inside.outcome == "prohibited" and inside.report_overlap
        assert temp.outcome == "restricted" and temp.report_overlap
        assert inside.section == temp.section == "redline"
        assert pack.rule("redline.nearest").predicate == "nearest"


def test_well_rules(packs):
    bj = packs["beijing"]
    for rid in ("well.30m.polluting", "well.30m.requirement"):
        r = bj.rule(rid)
        assert (r.layer, r.predicate, r.distance_m) == ("well", "within_distance", 30.0)
    polluting = bj.rule("well.30m.polluting")
    assert polluting.outcome == "prohibited"
    for flag in ("sewage", "garbage", "toilets", "manure"):
        assert polluting.applies_to(Project(flags={flag}))
    assert not polluting.applies_to(Project(flags={"vocs"}))


def test_tongzhou_key_area_does_not_double_fire(packs):
    tz = packs["tongzhou"]
    key = tz.rule("tongzhou.key.construction")
    strict = tz.rule("tongzhou.strict.construction")
    assert key.layer == "key_area"
    assert key.unless_layer == "strict_zone"
    assert strict.layer == "strict_zone"
    assert strict.unless_layer is None
    site = Project(project_type="construction")
    assert key.applies_to(site) and strict.applies_to(site)
    assert "4米" in strict.requirement and "2米" in strict.requirement
    assert "能装尽装" in key.requirement
    assert {"key_area", "strict_zone"} <= tz.layer_kinds()
    # the pack names the generic zones
    assert tz.kind_label("key_area") == "通州区重点区域"
    assert tz.kind_label("strict_zone", "en") == "Tongzhou strict-control zone"
    assert packs["beijing"].kind_label("key_area") == "重点区域"  # no [zones]: registry
    assert "site_exit" not in tz.layer_kinds()


def test_site_exit_band(packs):
    band = packs["tongzhou"].rule("tongzhou.site_exit.200m")
    assert (band.layer, band.predicate, band.distance_m) == ("site_exit", "within_distance", 100.0)
    assert band.outcome == "requirements"


def test_park_and_control_unit_conventions(packs):
    bj = packs["beijing"]
    park = bj.rule("park.service")
    assert (park.layer, park.predicate, park.distance_m) == ("park", "within_distance", None)
    assert park.when.project_types == ["residential"]
    assert bj.rule("park.nearest").predicate == "nearest"
    cu = bj.rule("control_unit.access")
    assert cu.access_list and cu.section == "access_list"


def test_jurisdiction_rules_filter_own_adcode(packs):
    """Rules on the boundary layer name an adcode inside the pack's own jurisdiction."""
    districts = {"110109", "110111", "110114", "110116", "110117", "110118", "110119"}
    for pack in packs.values():
        own = set(pack.jurisdiction.adcodes)
        for rule in pack.rules:
            if rule.layer != "boundary":
                continue
            codes = set(rule.feature_filter.get("adcode", []))
            assert codes, f"{pack.name}: {rule.id} would fire on every boundary feature"
            inherited = {ADCODES[a] for a in pack.lineage if a in ADCODES}
            assert codes <= inherited | districts | own, (pack.name, rule.id)


# --------------------------------------------------------------------------- documentation


def test_docs_list_every_rule_and_target():
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for name in list_packs():
        pack = load_pack(name)
        for rule in pack.rules:
            assert f"`{rule.id}`" in doc, f"docs/rules.md misses rule {rule.id} ({name})"
        for target in pack.targets:
            assert f"`{target.id}`" in doc, f"docs/rules.md misses target {target.id} ({name})"


def test_docs_minimal_example_loads(tmp_path):
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    assert blocks, "docs/rules.md has no TOML example"
    path = tmp_path / "mytown.toml"
    path.write_text(blocks[0], encoding="utf-8")
    pack = load_pack(path)
    assert pack.lineage == ("national", "beijing", "mytown")
    assert "eco_conservation.industry" not in {r.id for r in pack.rules}
    assert pack.rule("mytown.construction.dust").applies_to(Project(project_type="construction"))


def test_docs_pack_summary_counts(packs):
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for name, pack in packs.items():
        row = re.search(rf"^\| {name} \| .*\| (\d+) \| (\d+) \|$", doc, flags=re.M)
        assert row, name
        assert (int(row.group(1)), int(row.group(2))) == (len(pack.rules), len(pack.targets))


# --------------------------------------------------------------------------- [[amend]]


def test_amend_adds_citations_to_inherited_rules(tmp_path):
    _write(tmp_path, "base", _head("base") + _rule("a.one") + _rule("a.two"))
    cite = '[[amend.citations]]\nsource = "001_1c6d450321da7557.txt"\nline = "382"\ntext = "x"\n'
    child = _write(
        tmp_path, "kid", _head("kid", inherits="base") + '[[amend]]\nid = "a.two"\n' + cite
    )
    pack = load_pack(child)
    assert [c.line for c in pack.rule("a.two").citations] == ["296", "382"]
    assert [c.line for c in pack.rule("a.one").citations] == ["296"]
    assert pack.amend[0].id == "a.two"
    # a grandchild sees the amended rule
    grand = _write(tmp_path, "grand", _head("grand", inherits="kid"))
    assert [c.line for c in load_pack(grand).rule("a.two").citations] == ["296", "382"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[amend]]\nid = "a.nine"\n[[amend.citations]]\nsource = "x"\narticle = "1"\n',
            r"field 'amend\[0\]': rule 'a\.nine' is not a rule of the parent",
        ),
        (
            _rule("a.one")
            + '[[amend]]\nid = "a.one"\n[[amend.citations]]\nsource = "x"\narticle = "1"\n',
            r"rule 'a\.one' is defined in this file",
        ),
        ('[[amend]]\nid = "a.one"\n', r"field 'amend\[0\]\.citations': required field is missing"),
        (
            '[[amend]]\nid = "a.one"\n[[amend.citations]]\nsource = "001_1c6d450321da7557.txt"\n',
            r"amend\[0\]\.citations\[0\]': a seed citation .* needs 'line'",
        ),
    ],
    ids=["unknown-rule", "own-rule", "no-citations", "bad-citation"],
)
def test_amend_errors_name_file_and_entry(tmp_path, body, expected):
    _write(tmp_path, "base", _head("base") + _rule("a.one"))
    child = _write(tmp_path, "kid", _head("kid", inherits="base") + body)
    with pytest.raises(PackError, match=expected) as info:
        load_pack(child)
    assert "kid.toml" in str(info.value)


def test_amend_without_parent_is_an_error(tmp_path):
    path = _write(
        tmp_path,
        "alone",
        _head("alone") + _rule("a.one") + '[[amend]]\nid = "a.one"\n[[amend.citations]]\n'
        'source = "x"\narticle = "1"\n',
    )
    with pytest.raises(PackError, match=r"alone\.toml: field 'amend': only a pack that inherits"):
        load_pack(path)
