"""Rule-pack models, part 2: targets, scopes, zones, park service and jurisdiction.

Split from :mod:`zoning.pack`, which re-exports every public name here; import them
from ``zoning.pack``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from layers.kinds import canonical_kind
from zoning.pack_rules import _ID_RE, Citation, LayerKind, Metric, _Model

#: Words of a plan that make a target an aspiration (力争), not a binding value.
ASPIRATION_WORDS = ("力争", "力爭")

#: Chinese / English labels of a target's nature (binding vs aspiration).
TARGET_NATURE_ZH = {True: "约束性", False: "力争（预期性）"}
TARGET_NATURE_EN = {True: "binding", False: "aspirational (力争)"}


class Scope(_Model):
    """A named area that targets are set for (the pack's ``[scopes.ID]`` tables).

    Exactly one of:

    * ``adcodes``: administrative areas of the boundary layer (a municipality, a
      district);
    * ``layer``: the features of a layer kind (e.g. ``"built_up"``), cut to ``within``;
    * ``input = true``: an area the user gives (``ecozone coverage --scope ID=FILE``,
      ``measure_targets(scopes={ID: ...})``), cut to ``within``.

    ``within`` names another scope, or ``"jurisdiction"`` for the pack's own area.
    """

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    adcodes: list[str] | None = None
    layer: LayerKind | None = None
    input: bool = False
    within: str | None = None
    note: str = ""

    @field_validator("layer", mode="before")
    @classmethod
    def _old_kind_name(cls, v: Any) -> Any:
        return canonical_kind(v) if isinstance(v, str) else v  # layers.kinds.KIND_ALIASES

    @field_validator("adcodes", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        if isinstance(v, str | int):
            v = [v]
        return [str(x) for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _one_source(self) -> Scope:
        given = [self.adcodes is not None, self.layer is not None, self.input]
        if sum(given) != 1:
            msg = "a scope is given by exactly one of 'adcodes', 'layer' or 'input = true'"
            raise ValueError(msg)
        for code in self.adcodes or []:
            if not re.match(r"^\d{6}$", code):
                msg = f"an adcode has 6 digits, as in a boundary layer's adcode (got {code!r})"
                raise ValueError(msg)
        if self.adcodes is not None and self.within is not None:
            msg = "'within' is for 'layer' / 'input' scopes (adcodes are an area already)"
            raise ValueError(msg)
        return self


class Target(_Model):
    """A quantitative plan target, measured by :mod:`zoning.coverage.measure`.

    ``scope`` names the area the plan sets the target for: ``"jurisdiction"`` (the
    pack's own area) or a scope declared in the pack's ``[scopes.ID]``. A target is
    judged only at its scope; finer breakdowns are contributions. ``binding`` is
    false for aspirations (the plan says 力争): they are labelled 力争（预期性） and a
    shortfall reads 未达到力争目标, not 未达标. A citation whose text says 力争 must
    have ``binding = false``.
    """

    id: str = Field(pattern=_ID_RE)
    metric: Metric
    value: float = Field(ge=0)
    unit: Literal["%", "m2/person"]
    comparison: Literal[">=", "<="] = ">="
    year: int | None = Field(default=None, ge=2000, le=2100)
    label: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    citation: Citation
    scope: str = Field(default="jurisdiction", pattern=r"^[a-z][a-z0-9_]*$")
    binding: bool = True

    @model_validator(mode="after")
    def _unit_fits(self) -> Target:
        if self.metric == "park_area_per_person":
            if self.unit != "m2/person":
                msg = f"metric 'park_area_per_person' has unit 'm2/person' (got {self.unit!r})"
                raise ValueError(msg)
        else:
            if self.unit != "%":
                msg = f"metric {self.metric!r} is a share: unit '%' (got {self.unit!r})"
                raise ValueError(msg)
            if self.value > 100:
                msg = f"a share must be <= 100 % (got {self.value})"
                raise ValueError(msg)
        if self.binding and any(w in self.citation.text for w in ASPIRATION_WORDS):
            msg = (
                f"the cited text says 力争 ({self.citation.text!r}): an aspiration, "
                "set 'binding = false'"
            )
            raise ValueError(msg)
        return self

    @property
    def nature_zh(self) -> str:
        """约束性 or 力争（预期性）."""
        return TARGET_NATURE_ZH[self.binding]

    @property
    def nature_en(self) -> str:
        """Return "binding" or "aspirational (力争)"."""
        return TARGET_NATURE_EN[self.binding]


class ParkTier(_Model):
    """Parks of at least ``min_area_m2`` serve residents within ``radius_m``."""

    min_area_m2: float = Field(ge=0)
    radius_m: float = Field(gt=0)


_GB50563 = Citation(
    source="城市园林绿化评价标准",
    law="GB/T 50563-2010 Standard for urban landscaping evaluation",
    article="公园绿地服务半径 (park green space service radius)",
    text="≥5000 m² 公园绿地按 500 m 服务半径; 2000–5000 m² 按 300 m",
)


class ParkService(_Model):
    """Park service-radius tiers (default GB/T 50563-2010).

    Parks of 5 000 m² or more serve 500 m, parks of 2 000–5 000 m² serve 300 m and
    smaller parks are not counted.
    """

    tiers: list[ParkTier] = Field(
        default_factory=lambda: [
            ParkTier(min_area_m2=5000.0, radius_m=500.0),
            ParkTier(min_area_m2=2000.0, radius_m=300.0),
        ],
        min_length=1,
    )
    citation: Citation = _GB50563

    @field_validator("tiers")
    @classmethod
    def _distinct(cls, v: list[ParkTier]) -> list[ParkTier]:
        areas = [t.min_area_m2 for t in v]
        if len(set(areas)) != len(areas):
            msg = f"two tiers share the same min_area_m2 ({areas})"
            raise ValueError(msg)
        # largest parks first, so that the first matching tier wins
        return sorted(v, key=lambda t: -t.min_area_m2)

    def radius_for(self, area_m2: Any) -> np.ndarray:
        """Service radius in metres for each park area (0 for parks below every tier).

        Parameters
        ----------
        area_m2
            A number or array of park areas in m².

        Returns
        -------
        numpy.ndarray
            float64 radii, same shape as ``area_m2``.

        Examples
        --------
        >>> ParkService().radius_for([10000, 3000, 500]).tolist()
        [500.0, 300.0, 0.0]
        """
        a = np.asarray(area_m2, dtype="float64")
        out = np.zeros_like(a)
        done = np.zeros(a.shape, dtype=bool)
        for t in self.tiers:  # few tiers: loop over tiers, vectorised over parks
            hit = ~done & (a >= t.min_area_m2)
            out[hit] = t.radius_m
            done |= hit
        return out

    @property
    def max_radius_m(self) -> float:
        """The largest service radius of any tier."""
        return max(t.radius_m for t in self.tiers)


class Jurisdiction(_Model):
    """The area a pack governs: its administrative code(s) in the boundary layer."""

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    adcodes: list[str] = Field(min_length=1)

    @field_validator("adcodes", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        if isinstance(v, str | int):
            v = [v]
        return [str(x) for x in v] if isinstance(v, list) else v

    @field_validator("adcodes")
    @classmethod
    def _six_digits(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.match(r"^\d{6}$", code):
                msg = f"an adcode has 6 digits, as in a boundary layer's adcode (got {code!r})"
                raise ValueError(msg)
        return v

    @property
    def adcode(self) -> str:
        """The first (main) adcode."""
        return self.adcodes[0]


class Zone(_Model):
    """What a pack calls a generic zone kind (``[zones.<kind>]`` in the TOML).

    Zones specific to a jurisdiction (Tongzhou's 重点区域 and 严控区, another
    district's dust-control zone) are stored as the generic layer kinds that have
    ``pack_named`` set in the registry (``key_area``, ``strict_zone``). The pack says
    what the zone is called where it applies, and where it comes from; its rules use
    the kind as ``layer``, and a ``[scopes.ID]`` with ``layer = "<kind>"`` measures
    targets on it.

    Attributes
    ----------
    name, name_en : str
        Local name, e.g. "通州区重点区域" / "Tongzhou key area".
    note : str or None
        Where the zone's extent comes from (plan, annex), shown with the name.
    """

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    note: str | None = None


class Clues(_Model):
    """Where a pack's plan asks for red-line human-activity clue checks (``[clues]``).

    Attributes
    ----------
    citation : str
        Where the plan asks for it, e.g. "002_735b581d06638fbb.txt 第672–674行".
    note : str or None
        The plan's wording of the duty, shown with the results.
    """

    citation: str = Field(min_length=1)
    note: str | None = None


#: The zones of a key-area pollution-source ledger (:mod:`zoning.tasks.ledger`).
LEDGER_ZONES = ("strict", "key", "all")


class Ledger(_Model):
    """How a pack's plan asks for the key-area pollution-source ledger (``[ledger]``).

    Attributes
    ----------
    citation : str
        Where the plan asks for the ledger, e.g. "002_735b581d06638fbb.txt 第202行".
    note : str or None
        The plan's wording of the duty, shown with the ledger.
    zone_labels : dict
        The ledger's zone → label: ``strict`` (in a strict-control zone), ``key`` (in the
        key area outside them) and ``all`` (the whole key area); all three are needed.
    """

    citation: str = Field(min_length=1)
    note: str | None = None
    zone_labels: dict[str, str]

    @field_validator("zone_labels")
    @classmethod
    def _three_zones(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [z for z in LEDGER_ZONES if not str(v.get(z) or "").strip()]
        extra = sorted(set(v) - set(LEDGER_ZONES))
        if missing or extra:
            msg = (
                f"[ledger.zone_labels] needs a label for each of {list(LEDGER_ZONES)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")
            )
            raise ValueError(msg)
        return dict(v)
