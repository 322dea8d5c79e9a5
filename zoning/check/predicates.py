"""The rule predicates: one registry entry per spatial test a rule may name.

A rule (:class:`zoning.pack.Rule`) names a ``predicate``; :data:`PREDICATES` maps each
name to a :class:`Predicate` saying

- ``validate``: what the rule's fields must be (checked when a pack is loaded:
  :mod:`zoning.pack_rules` takes its vocabulary and checks from here);
- what relations the engine must compute for it: ``radius`` (a per-feature search
  distance: the pairs within it carry their distance) and ``nearest`` (the rule reads
  the nearest feature of each site, also when no pair was found);
- how its findings are derived from the relations: ``select`` (which (site, feature)
  pairs of :class:`zoning.check.relations.LayerRelations` fire), or, for a ``nearest``
  predicate, the nearest feature within ``distance_m`` if given.

The predicates:

- ``intersects``: the site touches a feature; ``within``: it lies inside one;
- ``within_distance``: a feature within ``distance_m`` metres on the ellipsoid, found in
  the plane of the site's Gauss-Krüger zone (docs/rules.md, "how distances are
  measured"); on
  layer ``park`` without ``distance_m``, within each park's service radius from
  ``pack.park_service`` by its ``area_m2`` (parks below the smallest tier never count);
- ``nearest`` (information): the nearest feature, within ``distance_m`` if given.

Adding a rule type is one entry here (see docs/internals.md, "How to add a rule
type"). This module imports neither the engine nor the pack models (both import it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.errors import LayerValidationError

__all__ = ["PREDICATES", "Predicate", "RulePlan", "plan_rule"]


@dataclass(frozen=True)
class Predicate:
    """One rule predicate: its field checks, the relations it needs, its findings.

    Attributes
    ----------
    name
        The name rules use (``predicate = "..."`` in a pack).
    validate
        ``validate(rule)`` → an error message (the rule's fields do not fit), or ``None``.
    radius
        ``radius(rule, mask, columns, park_service)`` → per-feature search distance in
        metres (NaN: never), or ``None`` when the predicate needs no distance.
    nearest
        The findings come from each site's nearest feature (not from pairs).
    select
        ``select(relations, plan)`` → which pairs of the rule's layer fire (``None``
        for a ``nearest`` predicate).
    """

    name: str
    validate: Callable[[Any], str | None]
    radius: Callable[[Any, NDArray[np.bool_], Mapping[str, Any], Any], NDArray[Any]] | None
    nearest: bool
    select: Callable[[Any, RulePlan], NDArray[np.bool_]] | None


@dataclass
class RulePlan:
    """What the engine needs of one rule, computed once per checker."""

    pos: int
    rule: Any  # zoning.pack.Rule
    mask: NDArray[np.bool_] | None  # features passing feature_filter (None: site_exit)
    within: NDArray[np.float64] | None  # per-feature distance limit (Predicate.radius)
    nearest_key: tuple[str, tuple[tuple[str, tuple[str, ...]], ...]] | None
    missing: bool = False  # its layer (or unless_layer) is not loaded: no data anywhere


def _no_distance(rule: Any) -> str | None:
    if rule.distance_m is not None:
        return f"'distance_m' is only for 'within_distance' / 'nearest', not {rule.predicate!r}"
    return None


def _needs_distance(rule: Any) -> str | None:
    if rule.distance_m is None and rule.layer != "park":
        return (
            "predicate 'within_distance' needs 'distance_m' (only layer 'park' may "
            "omit it, meaning the park service radius)"
        )
    return None


def _information_only(rule: Any) -> str | None:
    if rule.outcome != "information":
        return "predicate 'nearest' only reports a distance: its outcome must be 'information'"
    return None


def _distance_radius(
    rule: Any, mask: NDArray[np.bool_], columns: Mapping[str, Any], park_service: Any
) -> NDArray[Any]:
    if rule.distance_m is not None:
        return np.where(mask, float(rule.distance_m), np.nan)
    # park service radius by park area; 0 = below every tier: never
    if "area_m2" not in columns:
        msg = (
            f"rule {rule.id!r} needs the park service radius, but layer 'park' "
            "has no area_m2 column (validate it with layers.validate_layer)"
        )
        raise LayerValidationError(msg)
    radius = park_service.radius_for(columns["area_m2"])
    return np.where(mask & (radius > 0), radius, np.nan)


#: Predicate name → :class:`Predicate` (the vocabulary of ``Rule.predicate``).
PREDICATES: dict[str, Predicate] = {
    p.name: p
    for p in (
        Predicate("intersects", _no_distance, None, False, lambda r, plan: r.relation <= 1),
        Predicate("within", _no_distance, None, False, lambda r, plan: r.relation == 0),
        Predicate(
            "within_distance",
            _needs_distance,
            _distance_radius,
            False,
            lambda r, plan: r.distance_m <= plan.within[r.feature],
        ),
        Predicate("nearest", _information_only, None, True, None),
    )
}


def plan_rule(
    pos: int,
    rule: Any,
    mask: NDArray[np.bool_],
    columns: Mapping[str, Any],
    park_service: Any,
) -> RulePlan:
    """The plan of a rule on a loaded layer: its search radius and nearest-subset key.

    Parameters
    ----------
    pos
        The rule's position in the pack.
    rule
        The :class:`zoning.pack.Rule`.
    mask
        Features of its layer passing ``rule.feature_filter``.
    columns
        The layer's attribute columns (:attr:`zoning.check.relations.LayerIndex.columns`).
    park_service
        The pack's :class:`zoning.pack.ParkService` (service radii of parks).

    Returns
    -------
    RulePlan

    Raises
    ------
    LayerValidationError
        The predicate needs a column the layer lacks (a park radius without ``area_m2``).
    """
    spec = PREDICATES[rule.predicate]
    within = None if spec.radius is None else spec.radius(rule, mask, columns, park_service)
    nearest_key = None
    if spec.nearest and not mask.all():
        nearest_key = (
            rule.layer,
            tuple(sorted((k, tuple(v)) for k, v in rule.feature_filter.items())),
        )
    return RulePlan(pos, rule, mask, within, nearest_key)
