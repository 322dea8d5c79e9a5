"""Rule packs: per-jurisdiction data files of targets and spatial rules.

A pack is a TOML file under ``zoning/packs/`` (or any path) validated by the pydantic
models below. A pack may ``inherits`` another: the child's rules and targets replace
the parent's with the same ``id``, new ones are appended, ``disable = [ids]``
drops inherited ones, and ``[[amend]]`` adds citations to an inherited rule. Every
jurisdiction pack inherits the abstract ``national`` pack (rules of national law), so
the chains are national ← beijing ← tongzhou / daxing, national ← jiangjin / guangxi.
Every rule and target carries citations (seed plan file and
line, or a law / standard and its article).

Conventions shared with :mod:`zoning.check.engine`:

* a rule on layer ``"park"`` with predicate ``"within_distance"`` and no
  ``distance_m`` means "within the service radius of a park"; each park's radius
  comes from :attr:`Pack.park_service` by its ``area_m2`` (parks smaller than the
  smallest tier do not count);
* a rule with ``unless_layer = kind`` does not fire for a site that intersects a
  feature of that layer kind (Tongzhou key area vs strict-control zone);
* layer ``"site_exit"`` is not a stored layer: it is built from
  :attr:`zoning.project.Project.exits`, and ``within_distance`` with ``distance_m``
  tests the site against the band of that half-width around each exit point.

Errors are :class:`geo.errors.PackError` naming the file, the rule or target id and
the field, e.g. ``zoning/packs/x.toml: rule 'well.30m': field 'distance_m': must be
> 0 (got -3)``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from geo.errors import PackError
from layers.kinds import KINDS, canonical_kind
from zoning.outcomes import OUTCOMES_ZH, SECTIONS_ZH
from zoning.pack_rules import (
    _ID_RE,
    LAYER_KINDS,
    METRICS,
    PACKS_DIR,
    RULE_LAYERS,
    Citation,
    Conditions,
    Rule,
    RuleException,
    _Model,
)
from zoning.pack_targets import (
    ASPIRATION_WORDS,
    LEDGER_ZONES,
    TARGET_NATURE_EN,
    TARGET_NATURE_ZH,
    Clues,
    Jurisdiction,
    Ledger,
    ParkService,
    ParkTier,
    Scope,
    Target,
    Zone,
)
from zoning.project import Project

__all__ = [
    "ASPIRATION_WORDS",
    "LAYER_KINDS",
    "LEDGER_ZONES",
    "METRICS",
    "OUTCOMES_ZH",
    "PACKS_DIR",
    "RULE_LAYERS",
    "SECTIONS_ZH",
    "TARGET_NATURE_EN",
    "TARGET_NATURE_ZH",
    "Amendment",
    "Citation",
    "Clues",
    "Conditions",
    "Jurisdiction",
    "Ledger",
    "Pack",
    "ParkService",
    "ParkTier",
    "Rule",
    "RuleException",
    "Scope",
    "Target",
    "Zone",
    "iter_citations",
    "list_packs",
    "load_pack",
]


class Amendment(_Model):
    """Citations a child pack adds to an inherited rule (``[[amend]]`` in the TOML).

    A national rule (e.g. the Water Pollution Prevention Law's source-zone articles)
    is written once in the parent; a jurisdiction whose own plan restates it adds its
    plan's line here instead of repeating the rule.
    """

    id: str = Field(pattern=_ID_RE)
    citations: list[Citation] = Field(min_length=1)


class Pack(_Model):
    """A resolved rule pack (inheritance already applied by :func:`load_pack`).

    ``abstract = true`` marks a base pack (the national pack): it is inherited, not
    checked against, and :func:`list_packs` leaves it out. ``amend`` lists the
    citations this pack added to inherited rules (already merged into ``rules``).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    inherits: str | None = None
    jurisdiction: Jurisdiction
    targets: list[Target] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    park_service: ParkService = Field(default_factory=ParkService)
    #: default radii (m) of the screening list (周边敏感目标筛查), zoning.check.screening
    screening_radii_m: list[float] = Field(default_factory=lambda: [500.0, 1000.0, 5000.0])
    disable: list[str] = Field(default_factory=list)
    scopes: dict[str, Scope] = Field(default_factory=dict)
    #: local names of the generic zone kinds the pack uses ([zones.key_area], ...)
    zones: dict[str, Zone] = Field(default_factory=dict)
    #: how the plan asks for the key-area pollution-source ledger ([ledger]), if it does
    ledger: Ledger | None = None
    #: how the plan asks for red-line human-activity clue checks ([clues]), if it does
    clues: Clues | None = None
    abstract: bool = False
    amend: list[Amendment] = Field(default_factory=list)

    _path: Path | None = PrivateAttr(default=None)
    _lineage: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _unique_ids(self) -> Pack:
        for what, items in (("rule", self.rules), ("target", self.targets)):
            seen: set[str] = set()
            for it in items:
                if it.id in seen:
                    msg = f"duplicate {what} id {it.id!r}"
                    raise ValueError(msg)
                seen.add(it.id)
        return self

    @field_validator("zones", mode="before")
    @classmethod
    def _zone_kinds(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            return v
        out = {}
        for kind, zone in v.items():
            spec = KINDS.get(canonical_kind(str(kind)))
            if spec is None or not spec.pack_named:
                named = sorted(k for k, s in KINDS.items() if s.pack_named)
                msg = (
                    f"[zones.{kind}]: {kind!r} is not a zone kind a pack can name; "
                    f"use one of {named} (store the zone's features as that kind)"
                )
                raise ValueError(msg)
            out[spec.name] = zone
        return out

    @model_validator(mode="after")
    def _known_scopes(self) -> Pack:
        known = {"jurisdiction", *self.scopes}
        for sid, sc in self.scopes.items():
            if not re.match(r"^[a-z][a-z0-9_]*$", sid):
                msg = f"scope {sid!r}: ids are lower case, e.g. 'built_up'"
                raise ValueError(msg)
            if sc.within is not None and sc.within not in known - {sid}:
                msg = (
                    f"scope {sid!r}: field 'within': unknown scope {sc.within!r}; "
                    f"known: {sorted(known)}"
                )
                raise ValueError(msg)
        for t in self.targets:
            if t.scope not in known:
                msg = (
                    f"target {t.id!r}: field 'scope': unknown scope {t.scope!r}; declare it "
                    f"under [scopes.{t.scope}] (known: {sorted(known)})"
                )
                raise ValueError(msg)
        return self

    def scope(self, scope_id: str) -> Scope:
        """The declared scope ``scope_id``; ``"jurisdiction"`` is the pack's own area.

        Parameters
        ----------
        scope_id
            A key of :attr:`scopes` or ``"jurisdiction"``.

        Returns
        -------
        Scope

        Raises
        ------
        KeyError
            Naming the known scopes.
        """
        if scope_id in self.scopes:
            return self.scopes[scope_id]
        if scope_id == "jurisdiction":
            j = self.jurisdiction
            return Scope(name=j.name, name_en=j.name_en, adcodes=list(j.adcodes))
        msg = f"pack {self.name!r} has no scope {scope_id!r}; scopes: {sorted(self.scopes)}"
        raise KeyError(msg)

    @property
    def path(self) -> Path | None:
        """The file the pack was loaded from (``None`` when built in code)."""
        return self._path

    @property
    def lineage(self) -> tuple[str, ...]:
        """Pack names from the root ancestor to this pack: ("national", "beijing", "tongzhou")."""
        return self._lineage or (self.name,)

    def rule(self, rule_id: str) -> Rule:
        """Return the rule with id ``rule_id``; raise ``KeyError`` naming the known ids."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        msg = f"pack {self.name!r} has no rule {rule_id!r}; rules: {[r.id for r in self.rules]}"
        raise KeyError(msg)

    def target(self, target_id: str) -> Target:
        """Return the target with id ``target_id``; raise ``KeyError`` naming the known ids."""
        for t in self.targets:
            if t.id == target_id:
                return t
        msg = (
            f"pack {self.name!r} has no target {target_id!r}; "
            f"targets: {[t.id for t in self.targets]}"
        )
        raise KeyError(msg)

    def rules_for(self, project: Project | None) -> list[Rule]:
        """Return the rules whose conditions hold for ``project``, in pack order."""
        return [r for r in self.rules if r.applies_to(project)]

    def kind_label(self, kind: str, lang: str = "zh") -> str:
        """Return what this pack calls a layer kind, in ``lang`` ("zh" or "en").

        A zone the pack declares (``[zones.key_area] name = "通州区重点区域"``) is called
        by its declared name; every other kind by its registry label; an unknown name is
        returned as it is.

        Examples
        --------
        >>> load_pack("tongzhou").kind_label("key_area")  # doctest: +SKIP
        '通州区重点区域'
        """
        kind = canonical_kind(kind)
        zone = self.zones.get(kind)
        if zone is not None:
            return zone.name if lang == "zh" else zone.name_en
        spec = KINDS.get(kind)
        if spec is None:
            return kind
        return spec.label_zh if lang == "zh" else spec.label_en

    def layer_kinds(self) -> set[str]:
        """Layer kinds the rules read (including ``unless_layer``; excluding ``site_exit``)."""
        kinds = {r.layer for r in self.rules} | {r.unless_layer for r in self.rules}
        return {k for k in kinds if k and k != "site_exit"}


# --------------------------------------------------------------------------- loading


def _is_abstract(path: Path) -> bool:
    """Whether a pack file says ``abstract = true`` (unreadable files: False)."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh).get("abstract") is True
    except (OSError, tomllib.TOMLDecodeError):
        return False  # load_pack reports the problem


def list_packs(*, include_abstract: bool = False) -> list[str]:
    """Names of the built-in packs.

    Parameters
    ----------
    include_abstract
        Also list base packs that are only inherited (``abstract = true``: the
        national pack).

    Returns
    -------
    list of str
        Sorted, e.g. ``["beijing", "daxing", "guangxi", "jiangjin", "tongzhou"]``.
    """
    paths = sorted(PACKS_DIR.glob("*.toml"))
    return [p.stem for p in paths if include_abstract or not _is_abstract(p)]


def _display(path: Path) -> str:
    """Path as shown in messages: repo-relative for built-in packs."""
    path = path.resolve()
    for base in (PACKS_DIR.parent.parent, Path.cwd()):
        try:
            return path.relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def _find(name_or_path: str | Path, *, near: Path | None = None) -> Path:
    """Resolve a pack name or path to a file."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text
    if looks_like_path:
        p = Path(text)
        if not p.is_absolute() and near is not None and not p.exists():
            p = near / p
        if p.is_file():
            return p
        msg = f"rule pack file {text!r} not found; built-in packs: {', '.join(list_packs())}"
        raise PackError(msg)
    candidates = ([near / f"{text}.toml"] if near is not None else []) + [
        PACKS_DIR / f"{text}.toml"
    ]
    for c in candidates:
        if c.is_file():
            return c
    msg = (
        f"rule pack {text!r} not found (looked in "
        f"{', '.join(_display(c.parent) for c in candidates)}); "
        f"built-in packs: {', '.join(list_packs())}; or pass a path to a .toml file"
    )
    raise PackError(msg)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{_display(path)}: not valid TOML: {exc}; fix the syntax at that line"
        raise PackError(msg) from exc
    except OSError as exc:
        msg = f"{_display(path)}: cannot read the pack file: {exc}"
        raise PackError(msg) from exc


_PLURAL = {"rules": "rule", "targets": "target"}


def _num(x: Any) -> Any:
    """0.0 -> 0 for messages."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _describe_error(err: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """One pydantic error as "rule 'id': field 'x': message (got v)"."""
    loc = list(err.get("loc", ()))
    where = []
    if len(loc) >= 2 and loc[0] in _PLURAL and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) else {}
        rid = item.get("id") if isinstance(item, Mapping) else None
        where.append(f"{_PLURAL[loc[0]]} {rid!r}" if rid else f"{_PLURAL[loc[0]]} #{loc[1] + 1}")
        loc = loc[2:]
    field = ""
    for x in loc:
        if isinstance(x, int):
            field += f"[{x}]"
        elif not str(x).startswith(("function-", "literal[", "list[")):
            # (pydantic names Union/Literal branches: those are internal tags)
            field += f".{x}" if field else str(x)
    if field:
        where.append(f"field {field!r}")
    etype = err.get("type", "")
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if etype == "greater_than":
        text = f"must be > {_num(ctx.get('gt'))} (got {given!r})"
    elif etype == "greater_than_equal":
        text = f"must be >= {_num(ctx.get('ge'))} (got {given!r})"
    elif etype == "less_than_equal":
        text = f"must be <= {_num(ctx.get('le'))} (got {given!r})"
    elif etype == "extra_forbidden":
        text = f"unknown field (got {given!r}); check the spelling against docs/rules.md"
    elif etype == "missing":
        text = "required field is missing"
    elif etype == "literal_error":
        text = f"must be one of {ctx.get('expected')} (got {given!r})"
    elif etype == "string_pattern_mismatch":
        hint = " (ids are dotted lower case, e.g. 'well.30m.polluting')" if field == "id" else ""
        text = f"must match {ctx.get('pattern')}{hint} (got {given!r})"
    elif etype == "value_error":
        text = str(ctx.get("error", err.get("msg", "")))
    else:
        text = f"{err.get('msg', '')} (got {given!r})"
    return ": ".join([*where, text])


def _validate(model: type[_Model], raw: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_error(e, raw) for e in exc.errors()]
        head = _display(path)
        if len(problems) == 1:
            msg = f"{head}: {problems[0]}"
        else:
            msg = f"{head}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
        raise PackError(msg) from None


def _check_duplicates(raw: Mapping[str, Any], path: Path) -> None:
    for key, what in _PLURAL.items():
        items = raw.get(key) or []
        seen: set[str] = set()
        for it in items:
            rid = it.get("id") if isinstance(it, Mapping) else None
            if rid is None:
                continue
            if rid in seen:
                msg = (
                    f"{_display(path)}: {what} {rid!r}: field 'id': duplicate id; "
                    "each id may appear once per file (to change an inherited one, "
                    "redefine it once in the child pack)"
                )
                raise PackError(msg)
            seen.add(rid)


def _merge(parent: Pack, raw: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[str]]:
    """Child raw data on top of a resolved parent: rules/targets override by id."""
    merged = dict(raw)
    disable = raw.get("disable") or []
    if not isinstance(disable, list):
        msg = f"{_display(path)}: field 'disable': must be a list of ids (got {disable!r})"
        raise PackError(msg)
    known = {r.id for r in parent.rules} | {t.id for t in parent.targets}
    unknown = [d for d in disable if d not in known]
    if unknown:
        msg = (
            f"{_display(path)}: field 'disable': {unknown} are not rules or targets of the "
            f"parent pack {parent.name!r}; known ids: {sorted(known)}"
        )
        raise PackError(msg)
    for key, what in _PLURAL.items():
        items: dict[str, Any] = {
            it.id: it.model_dump() for it in getattr(parent, key) if it.id not in disable
        }
        new: list[Any] = []
        for it in raw.get(key) or []:
            rid = it.get("id") if isinstance(it, Mapping) else None
            if rid in disable:
                msg = (
                    f"{_display(path)}: {what} {rid!r}: field 'id': both disabled and "
                    "redefined; remove it from 'disable' to override it"
                )
                raise PackError(msg)
            if rid is not None and rid in items:
                items[rid] = it  # override in place: keeps the parent's order
            else:
                new.append(it)
        if key == "rules":
            _apply_amendments(items, raw.get(key) or [], raw.get("amend"), parent, path)
        merged[key] = [*items.values(), *new]
    if "park_service" not in raw:
        merged["park_service"] = parent.park_service.model_dump()
    if "screening_radii_m" not in raw:
        merged["screening_radii_m"] = list(parent.screening_radii_m)
    merged["scopes"] = _merge_scopes(parent, raw, merged.get("targets") or [], path)
    own_zones = raw.get("zones") or {}
    if not isinstance(own_zones, Mapping):
        msg = (
            f"{_display(path)}: field 'zones': must be a table of [zones.KIND] (got {own_zones!r})"
        )
        raise PackError(msg)
    merged["zones"] = {**{k: z.model_dump() for k, z in parent.zones.items()}, **own_zones}
    if "ledger" not in raw and parent.ledger is not None:
        merged["ledger"] = parent.ledger.model_dump()
    if "clues" not in raw and parent.clues is not None:
        merged["clues"] = parent.clues.model_dump()
    return merged, list(parent.lineage)


def _apply_amendments(
    rules: dict[str, Any], raw_rules: list[Any], amend: Any, parent: Pack, path: Path
) -> None:
    """Append each ``[[amend]]`` entry's citations to the inherited rule it names.

    ``rules`` maps id → rule data after the child's overrides; an amendment may only
    name a rule the parent defines and the child does not redefine (a redefined rule
    takes its citations directly).
    """
    if amend is None:
        return
    if not isinstance(amend, list):
        msg = f"{_display(path)}: field 'amend': must be a list of [[amend]] tables"
        msg += f" (got {amend!r})"
        raise PackError(msg)
    inherited = {r.id for r in parent.rules}
    own = {it.get("id") for it in raw_rules if isinstance(it, Mapping)}
    for n, entry in enumerate(amend):
        rid = entry.get("id") if isinstance(entry, Mapping) else None
        cites = entry.get("citations") if isinstance(entry, Mapping) else None
        where = f"{_display(path)}: field 'amend[{n}]'"
        if rid is None or rid not in rules:
            why = "is disabled here" if rid in inherited else "is not a rule of the parent"
            msg = (
                f"{where}: rule {rid!r} {why}; amend names an inherited rule, known: "
                f"{sorted(rules)}"
            )
            raise PackError(msg)
        if rid not in inherited or rid in own:
            msg = f"{where}: rule {rid!r} is defined in this file; put the citations there"
            raise PackError(msg)
        if not isinstance(cites, list):
            continue  # the schema check reports the missing citations
        rules[rid] = {**rules[rid], "citations": [*rules[rid]["citations"], *cites]}


def _merge_scopes(
    parent: Pack, raw: Mapping[str, Any], targets: list[Any], path: Path
) -> dict[str, Any]:
    """The parent's scopes under the child's (by id); inherited targets keep their area.

    A parent target or scope set for ``"jurisdiction"`` meant the parent's area: it is
    re-pointed at a scope ``<parent>_jurisdiction`` holding the parent's adcodes, so
    that inheriting never moves a target to the child's (smaller) area.
    """
    own = raw.get("scopes") or {}
    if not isinstance(own, Mapping):
        msg = f"{_display(path)}: field 'scopes': must be a table of [scopes.ID] (got {own!r})"
        raise PackError(msg)
    scopes: dict[str, Any] = {k: v.model_dump() for k, v in parent.scopes.items()}
    parent_ids = {t.id for t in parent.targets}
    own_ids = {it.get("id") for it in raw.get("targets") or [] if isinstance(it, Mapping)}
    alias = f"{parent.name}_jurisdiction"
    used = False
    for sc in scopes.values():
        if sc.get("within") == "jurisdiction":
            sc["within"], used = alias, True
    for i, t in enumerate(targets):
        if isinstance(t, Mapping) and t.get("id") in parent_ids - own_ids:
            if t.get("scope", "jurisdiction") == "jurisdiction":
                targets[i] = {**t, "scope": alias}
                used = True
    if used and alias not in scopes:
        j = parent.jurisdiction
        scopes[alias] = {"name": j.name, "name_en": j.name_en, "adcodes": list(j.adcodes)}
    scopes.update(own)
    return scopes


def _load(path: Path, stack: tuple[Path, ...]) -> Pack:
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(_display(p) for p in (*stack, path))
        msg = f"{_display(path)}: field 'inherits': cyclic inheritance ({chain}); break the cycle"
        raise PackError(msg)
    raw = _read_toml(path)
    _check_duplicates(raw, path)
    lineage: list[str] = []
    inherits = raw.get("inherits")
    if inherits is not None:
        if not isinstance(inherits, str) or not inherits:
            msg = f"{_display(path)}: field 'inherits': must be a pack name (got {inherits!r})"
            raise PackError(msg)
        try:
            parent_path = _find(inherits, near=path.parent)
        except PackError as exc:
            msg = f"{_display(path)}: field 'inherits': parent pack {inherits!r} not found: {exc}"
            raise PackError(msg) from None
        parent = _load(parent_path, (*stack, path))
        # validate the child's own entries first, so errors point at this file's items
        own = {k: v for k, v in raw.items() if k in ("rules", "targets", "amend")}
        _validate(_ChildItems, own, path)
        raw, lineage = _merge(parent, raw, path)
    elif raw.get("amend"):
        msg = (
            f"{_display(path)}: field 'amend': only a pack that inherits another can amend "
            "its rules; add 'inherits' or write the citations in the rules"
        )
        raise PackError(msg)
    pack = _validate(Pack, raw, path)
    pack._path = path
    pack._lineage = (*lineage, pack.name)
    return pack


class _ChildItems(_Model):
    """Only the items a child pack defines (validated before merging)."""

    rules: list[Rule] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    amend: list[Amendment] = Field(default_factory=list)


def load_pack(name_or_path: str | Path) -> Pack:
    """Load and validate a rule pack, resolving its inheritance.

    Parameters
    ----------
    name_or_path
        A built-in pack name (``"beijing"``, ``"tongzhou"``, ``"daxing"``,
        ``"jiangjin"``, ``"guangxi"``, or the abstract base ``"national"``; see
        :func:`list_packs`) or the path to a TOML file. A parent named in ``inherits``
        is looked for next to the child file first, then among the built-in packs.

    Returns
    -------
    Pack
        With the parent's rules and targets merged in (the child's entries replace the
        parent's with the same id; ids in ``disable`` are dropped).

    Raises
    ------
    PackError
        The file or a parent is missing, the TOML is malformed, inheritance is
        cyclic, or a field fails the schema; the message names the file, the rule or
        target id and the field.

    Examples
    --------
    >>> pack = load_pack("tongzhou")
    >>> pack.lineage
    ('national', 'beijing', 'tongzhou')
    """
    path = _find(name_or_path)
    return _load(path, ())


def iter_citations(pack: Pack) -> Iterable[tuple[str, Citation]]:
    """Every (owner id, citation) pair of a pack: rules, targets and park service.

    Parameters
    ----------
    pack
        A loaded pack.

    Yields
    ------
    tuple of (str, Citation)
    """
    for r in pack.rules:
        for c in r.citations:
            yield r.id, c
        for ex in r.exceptions:
            for c in ex.citations:
                yield f"{r.id}/{ex.id}", c
    for t in pack.targets:
        yield t.id, t.citation
    yield "park_service", pack.park_service.citation
