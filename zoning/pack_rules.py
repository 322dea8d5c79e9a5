"""Rule-pack models, part 1: the vocabulary and the rule models (:class:`Rule`).

Split from :mod:`zoning.pack`, which re-exports every public name here; import them
from ``zoning.pack``. Field meanings: docs/internals.md, section "Rule packs".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from layers.kinds import KINDS, LAYER_KINDS, canonical_kind
from zoning.check.predicates import PREDICATES as _REGISTERED_PREDICATES
from zoning.coverage.registry import METRICS as _REGISTERED_METRICS
from zoning.industry import normalise_prefixes
from zoning.outcomes import OUTCOMES_ZH
from zoning.project import ACTIVITIES, DEVELOPMENT, FLAGS, PROJECT_TYPES, Project

#: Directory of the built-in packs.
PACKS_DIR = Path(__file__).with_name("packs")

#: What a rule may test: a layer kind, or the exit band built from the project.
RULE_LAYERS: tuple[str, ...] = (*LAYER_KINDS, "site_exit")

#: Rule predicates: the names of the registry :data:`zoning.check.predicates.PREDICATES`.
PREDICATE_NAMES: tuple[str, ...] = tuple(_REGISTERED_PREDICATES)

#: Target metrics understood by :mod:`zoning.coverage.measure` (its metric registry).
METRICS: tuple[str, ...] = tuple(_REGISTERED_METRICS)

# Literal types built from the tuples, so the vocabulary is written once.
LayerKind = Literal[LAYER_KINDS]  # type: ignore[valid-type]
RuleLayer = Literal[RULE_LAYERS]  # type: ignore[valid-type]
Metric = Literal[METRICS]  # type: ignore[valid-type]
ProjectType = Literal[tuple(PROJECT_TYPES)]  # type: ignore[valid-type]
Flag = Literal[tuple(FLAGS)]  # type: ignore[valid-type]
Activity = Literal[tuple(ACTIVITIES)]  # type: ignore[valid-type]
Predicate = Literal[PREDICATE_NAMES]  # type: ignore[valid-type]
Outcome = Literal["prohibited", "restricted", "requirements", "information"]
Section = Literal["redline", "quality_floor", "resource_cap", "access_list"]


_ID_RE = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
_SEED_RE = re.compile(r"^\d{3}_[0-9a-f]+\.txt$")
_LINES_RE = re.compile(r"^\d+(-\d+)?(,\s*\d+(-\d+)?)*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Citation(_Model):
    """Where a rule or target comes from.

    Either a seed plan (``source`` the file name in ``seeds/``, ``line`` "148",
    "672-674" or "59,148") or a law / standard (``source`` its Chinese name, ``law``
    its English name, ``article`` the article or clause, e.g. "第六十五条" / "art. 65").
    ``text`` is a short quotation or paraphrase of what the source says.
    """

    source: str = Field(min_length=1)
    line: str | None = None
    law: str | None = None
    article: str | None = None
    text: str = ""

    @field_validator("line", mode="before")
    @classmethod
    def _line_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @field_validator("line")
    @classmethod
    def _line_form(cls, v: str | None) -> str | None:
        if v is not None and not _LINES_RE.match(v.strip()):
            msg = f"must be a line number or range like '148', '672-674' or '59,148' (got {v!r})"
            raise ValueError(msg)
        return None if v is None else v.strip()

    @model_validator(mode="after")
    def _seed_or_law(self) -> Citation:
        if self.is_seed:
            if self.line is None:
                msg = f"a seed citation ({self.source}) needs 'line'"
                raise ValueError(msg)
            if self.article is not None or self.law is not None:
                msg = "a seed citation takes 'line', not 'law' / 'article'"
                raise ValueError(msg)
        else:
            if self.line is not None:
                msg = (
                    f"'line' is only for seed files (NNN_hash.txt); source {self.source!r} "
                    "is a law or standard: give 'article' instead"
                )
                raise ValueError(msg)
            if self.article is None:
                msg = f"a law or standard citation ({self.source}) needs 'article'"
                raise ValueError(msg)
        return self

    @property
    def is_seed(self) -> bool:
        """True when the citation points into a seed plan file."""
        return bool(_SEED_RE.match(self.source))

    def lines(self) -> list[int]:
        """Every line number the citation covers (empty for a law).

        Returns
        -------
        list of int
            ``"672-674"`` gives ``[672, 673, 674]``; ``"59,148"`` gives ``[59, 148]``.
        """
        if self.line is None:
            return []
        out: list[int] = []
        for part in self.line.split(","):
            a, _, b = part.strip().partition("-")
            out.extend(range(int(a), int(b or a) + 1))
        return out

    def __str__(self) -> str:
        if self.is_seed:
            return f"{self.source} 第{self.line}行 (l.{self.line})"
        en = f" ({self.law})" if self.law else ""
        return f"《{self.source}》{self.article}{en}"


class Conditions(_Model):
    """Conditions on the project for a rule to apply; ``None`` means "any".

    A rule applies when every given condition holds:

    * ``project_types``: the project's type is one of these;
    * ``industry_prefixes``: its GB/T 4754 industry code starts with one of these
      (a project without a code does not match);
    * ``flags_any``: it has at least one of these flags;
    * ``flags_none``: it has none of these flags;
    * ``development``: ``"new"`` or ``"expansion"``;
    * ``temporary_land_use`` / ``water_supply``: the project's value equals this;
    * ``activities``: the project declares one of these limited activities
      (:data:`zoning.project.ACTIVITIES`; a project declaring none does not match).
    """

    project_types: list[ProjectType] | None = None
    industry_prefixes: list[str] | None = None
    flags_any: list[Flag] | None = None
    flags_none: list[Flag] | None = None
    development: Literal["new", "expansion"] | None = None
    temporary_land_use: bool | None = None
    water_supply: bool | None = None
    activities: list[Activity] | None = None

    @field_validator("industry_prefixes")
    @classmethod
    def _prefixes(cls, v: list[str] | None) -> list[str] | None:
        return normalise_prefixes(v)  # one rule for packs and access lists

    def applies_to(self, project: Project | None) -> bool:
        """Whether every given condition holds for ``project``.

        Parameters
        ----------
        project
            The project; ``None`` is read as ``Project()`` (type and industry unknown,
            no flags, new development).

        Returns
        -------
        bool
        """
        p = Project() if project is None else project
        if self.project_types is not None and p.project_type not in self.project_types:
            return False
        if self.industry_prefixes is not None:
            code = p.industry_code or ""
            if not code or not any(code.startswith(x) for x in self.industry_prefixes):
                return False
        if self.flags_any is not None and not (p.flags & set(self.flags_any)):
            return False
        if self.flags_none is not None and p.flags & set(self.flags_none):
            return False
        if self.development is not None and p.development != self.development:
            return False
        if self.temporary_land_use is not None and p.temporary_land_use != self.temporary_land_use:
            return False
        if self.activities is not None and p.activity not in self.activities:
            return False
        return not (self.water_supply is not None and p.water_supply != self.water_supply)

    def describe(self) -> str:
        """Short Chinese description of the conditions ("任何项目" when none)."""
        parts = []
        if self.project_types:
            parts.append("项目类型: " + "、".join(PROJECT_TYPES[t] for t in self.project_types))
        if self.industry_prefixes:
            parts.append("行业代码: " + "、".join(f"{p}*" for p in self.industry_prefixes))
        if self.flags_any:
            parts.append("含任一: " + "、".join(FLAGS[f] for f in self.flags_any))
        if self.flags_none:
            parts.append("不含: " + "、".join(FLAGS[f] for f in self.flags_none))
        if self.development:
            parts.append("建设性质: " + DEVELOPMENT[self.development])
        if self.temporary_land_use is not None:
            parts.append("临时用地" if self.temporary_land_use else "非临时用地")
        if self.water_supply is not None:
            parts.append("供水设施" if self.water_supply else "非供水设施")
        if self.activities:
            parts.append("申报活动: " + "、".join(ACTIVITIES[a] for a in self.activities))
        return "; ".join(parts) or "任何项目"


class RuleException(_Model):
    """An exception the plans allow to a rule, with its own citations.

    When the project meets ``when``, the rule's outcome becomes ``outcome`` (e.g.
    prohibited → restricted, 需论证).

    The first exception of a rule whose conditions hold applies; it is reported with
    its own title, requirement and citations (a note of kind "exception").
    """

    id: str = Field(pattern=_ID_RE)
    when: Conditions
    outcome: Outcome
    title: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    requirement: str = Field(min_length=1)
    requirement_en: str = Field(min_length=1)
    citations: list[Citation] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_conditions(self) -> RuleException:
        if not self.when.model_dump(exclude_none=True):
            msg = "an exception needs at least one condition in 'when' (else it is the rule)"
            raise ValueError(msg)
        return self


def _filter_outside_vocabulary(layer: str, feature_filter: Mapping[str, list[str]]) -> str | None:
    """What is wrong with a filter value its layer kind never holds (``None``: nothing).

    A kind's column with a fixed vocabulary (a water source's ``grade``: 1, 2, quasi)
    holds only those values once imported; a filter asking for another (``一级``, or a
    typo) would keep no feature, and its rule would silently never apply.
    """
    kind = KINDS.get(layer)
    if kind is None:  # (a pack's own kind: its vocabulary is its own)
        return None
    specs = {c.name: c for c in kind.columns}
    for column, values in feature_filter.items():
        spec = specs.get(column)
        if spec is None or spec.allowed is None:
            continue
        for value in values:
            known = spec.canonical_value(value)
            if known == value:
                continue
            fix = f"write {known!r}" if known else f"use one of {', '.join(spec.allowed)}"
            return (
                f"feature_filter {column} = {value!r}: layer {layer!r} holds only "
                f"{', '.join(spec.allowed)} in {column!r} (imported values are mapped to "
                f"these), so the rule would never apply; {fix}"
            )
    return None


class Rule(_Model):
    """One spatial rule: a test of the site against a layer, and its outcome.

    Fields follow docs/internals.md; ``unless_layer`` (an extension) names a layer
    kind whose features, when the site intersects one, stop the rule from firing.
    """

    id: str = Field(pattern=_ID_RE)
    layer: RuleLayer
    predicate: Predicate
    distance_m: float | None = Field(default=None, gt=0)
    feature_filter: dict[str, list[str]] = Field(default_factory=dict)
    when: Conditions = Field(default_factory=Conditions)
    outcome: Outcome
    section: Section
    title: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    requirement: str = Field(min_length=1)
    requirement_en: str = Field(min_length=1)
    citations: list[Citation] = Field(min_length=1)
    access_list: bool = False
    report_overlap: bool = False
    unless_layer: LayerKind | None = None
    exceptions: list[RuleException] = Field(default_factory=list)

    @field_validator("layer", "unless_layer", mode="before")
    @classmethod
    def _old_kind_names(cls, v: Any) -> Any:
        # packs written for an older ecozone name a renamed kind (KIND_ALIASES)
        return canonical_kind(v) if isinstance(v, str) else v

    @field_validator("feature_filter", mode="before")
    @classmethod
    def _filter_lists(cls, v: Any) -> Any:
        # grade = "1" and grade = 1 both mean grade = ["1"]
        if not isinstance(v, Mapping):
            return v
        out = {}
        for k, vals in v.items():
            seq = vals if isinstance(vals, list | tuple) else [vals]
            out[k] = [str(x) for x in seq]
        return out

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        p = self.predicate
        problem = _REGISTERED_PREDICATES[p].validate(self)  # the predicate's own fields
        if problem is not None:
            raise ValueError(problem)
        if self.layer == "site_exit" and p != "within_distance":
            msg = "layer 'site_exit' (the band around the project's exits) needs 'within_distance'"
            raise ValueError(msg)
        if self.access_list and self.layer != "control_unit":
            msg = "'access_list = true' only works on layer 'control_unit'"
            raise ValueError(msg)
        if self.unless_layer is not None and self.unless_layer == self.layer:
            msg = f"'unless_layer' {self.unless_layer!r} is the rule's own layer"
            raise ValueError(msg)
        problem = _filter_outside_vocabulary(self.layer, self.feature_filter)
        if problem is not None:
            raise ValueError(problem)
        for ex in self.exceptions:
            if ex.outcome == self.outcome:
                msg = (
                    f"exception {ex.id!r} keeps the rule's outcome {self.outcome!r}: "
                    "it changes nothing"
                )
                raise ValueError(msg)
        if len({ex.id for ex in self.exceptions}) != len(self.exceptions):
            msg = "two exceptions of the rule share an id"
            raise ValueError(msg)
        return self

    def exception_for(self, project: Project | None) -> RuleException | None:
        """The first exception whose conditions hold for ``project`` (None: none).

        Parameters
        ----------
        project
            The project, or ``None`` for an unknown project.

        Returns
        -------
        RuleException or None
        """
        for ex in self.exceptions:
            if ex.when.applies_to(project):
                return ex
        return None

    def applies_to(self, project: Project | None) -> bool:
        """Whether the rule's conditions hold for ``project`` (see :class:`Conditions`).

        Parameters
        ----------
        project
            The project, or ``None`` for an unknown project.

        Returns
        -------
        bool
        """
        return self.when.applies_to(project)

    @property
    def outcome_zh(self) -> str:
        """Chinese label of the outcome."""
        return OUTCOMES_ZH[self.outcome]
