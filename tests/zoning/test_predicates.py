"""The rule-predicate registry: pack loading reads its vocabulary and field checks."""

from __future__ import annotations

import typing

import numpy as np
import pytest
from pydantic import ValidationError

from zoning.check.predicates import PREDICATES, plan_rule
from zoning.check.relations import LayerRelations
from zoning.pack import Rule, load_pack


def _rule(**kw: object) -> Rule:
    base: dict[str, object] = {
        "id": "r_test",
        "layer": "redline",
        "predicate": "intersects",
        "outcome": "prohibited",
        "section": "redline",
        "title": "测试",
        "title_en": "test",
        "requirement": "要求",
        "requirement_en": "requirement",
        "citations": [{"source": "测试法", "article": "第一条"}],
    }
    base.update(kw)
    return Rule.model_validate(base)


def test_rule_vocabulary_is_the_registry() -> None:
    allowed = typing.get_args(Rule.model_fields["predicate"].annotation)
    assert set(allowed) == set(PREDICATES) == {"intersects", "within", "within_distance", "nearest"}


def test_unknown_predicate_rejected() -> None:
    with pytest.raises(ValidationError, match="predicate"):
        _rule(predicate="touches")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"predicate": "within_distance"}, "needs 'distance_m'"),
        ({"predicate": "intersects", "distance_m": 50.0}, "only for 'within_distance'"),
        ({"predicate": "within", "distance_m": 50.0}, "not 'within'"),
        ({"predicate": "nearest"}, "outcome must be 'information'"),
    ],
)
def test_registry_checks_fields_at_load(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _rule(**fields)


def test_fitting_rules_load() -> None:
    assert _rule(predicate="within_distance", distance_m=100.0).distance_m == 100.0
    assert _rule(predicate="within_distance", layer="park").distance_m is None
    assert _rule(predicate="nearest", outcome="information").predicate == "nearest"


def test_shipped_packs_use_registered_predicates() -> None:
    pack = load_pack("tongzhou")
    assert pack.rules
    assert all(r.predicate in PREDICATES for r in pack.rules)


def test_select_and_plan_follow_relations() -> None:
    # pairs: site 0 inside feature 0, site 1 overlaps feature 1, site 2 near feature 0
    rel = LayerRelations(
        site=np.array([0, 1, 2]),
        feature=np.array([0, 1, 0]),
        relation=np.array([0, 1, 2], dtype=np.int8),
        overlap_m2=np.zeros(3),
        overlap_pct=np.zeros(3),
        distance_m=np.array([0.0, 0.0, 80.0]),
        length_m=np.full(3, np.nan),
        length_pct=np.full(3, np.nan),
        nearest_feature=np.zeros(3, dtype=np.intp),
        nearest_m=np.zeros(3),
        intersects_any=np.array([True, True, False]),
    )
    mask = np.array([True, True])
    near = plan_rule(0, _rule(predicate="within_distance", distance_m=50.0), mask, {}, None)
    far = plan_rule(0, _rule(predicate="within_distance", distance_m=100.0), mask, {}, None)
    assert PREDICATES["intersects"].select(rel, near).tolist() == [True, True, False]
    assert PREDICATES["within"].select(rel, near).tolist() == [True, False, False]
    assert PREDICATES["within_distance"].select(rel, near).tolist() == [True, True, False]
    assert PREDICATES["within_distance"].select(rel, far).tolist() == [True, True, True]
    assert near.nearest_key is None
    info = _rule(predicate="nearest", outcome="information", feature_filter={"grade": ["1"]})
    plan = plan_rule(0, info, np.array([True, False]), {}, None)
    assert plan.nearest_key == ("redline", (("grade", ("1",)),))
    assert PREDICATES["nearest"].nearest and PREDICATES["nearest"].select is None


def test_a_filter_on_a_number_column_is_an_error_not_a_rule_that_never_applies() -> None:
    # a park's area_m2 is held as numbers: a filter's texts would match no park, and the
    # rule would silently never apply (a site near such a park could pass as 符合)
    import geopandas as gpd
    import shapely

    from geo.errors import LayerValidationError
    from zoning.check.layer_index import feature_mask, index_layer

    parks = gpd.GeoDataFrame(
        {"feature_id": ["p1", "p2"], "name": ["甲", "乙"], "area_m2": [12_000.0, 500.0],
         "grade": ["city", "community"]},
        geometry=[shapely.box(116.0, 39.0, 116.01, 39.01), shapely.box(116.1, 39.0, 116.11, 39.01)],
        crs=4326,
    )  # fmt: skip
    index, _ = index_layer("park", parks)
    by_grade = _rule(layer="park", feature_filter={"grade": ["city"]})
    assert feature_mask(by_grade, index).tolist() == [True, False]
    by_area = _rule(layer="park", feature_filter={"area_m2": ["12000"]})
    with pytest.raises(LayerValidationError, match=r"'area_m2' of layer 'park' holds numbers"):
        feature_mask(by_area, index)


def test_the_number_columns_of_an_index_are_those_its_kind_declares() -> None:
    # which columns are numbers is the kind's data (layers.kinds), not a kind named in code
    import geopandas as gpd
    import shapely

    from layers.kinds import KINDS
    from zoning.check.layer_index import index_layer

    declared = {
        k: {c.name for c in spec.columns if c.dtype == "float"} for k, spec in KINDS.items()
    }
    assert declared["park"] >= {"area_m2"} and declared["residential"] >= {"population"}
    for kind, numbers in declared.items():
        frame = gpd.GeoDataFrame(
            {"feature_id": ["a"], "name": ["甲"], "note": ["12.5"],
             **{c: ["12.5"] for c in numbers}},
            geometry=[shapely.box(116.0, 39.0, 116.01, 39.01)], crs=4326,
        )  # fmt: skip
        index, _ = index_layer(kind, frame)
        for column in numbers:
            assert index.columns[column].dtype == np.float64, (kind, column)
            assert index.columns[column].tolist() == [12.5]
        assert index.columns["note"].dtype == object, kind  # not declared: text
    unknown, _ = index_layer("not_a_kind", frame.assign(area_m2=["12.5"]))
    assert unknown.columns["area_m2"].dtype == object


@pytest.mark.parametrize(
    ("value", "message"),
    [("一级", "write '1'"), ("QUASI", "write 'quasi'"), ("3", "use one of 1, 2, quasi")],
)
def test_a_filter_value_the_layer_never_holds_is_refused_at_load(value, message) -> None:
    # imported water-source zones hold grade 1, 2 or quasi: a filter asking for another
    # value would keep no zone, and its rule would never apply
    with pytest.raises(ValidationError, match=message):
        _rule(layer="water_source_zone", feature_filter={"grade": [value]})
    assert _rule(layer="water_source_zone", feature_filter={"grade": ["1"]}).feature_filter
    # columns without a fixed vocabulary take any value
    assert _rule(layer="water_source_zone", feature_filter={"adcode": ["110112"]}).feature_filter
