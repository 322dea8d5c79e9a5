"""Record the extents of the demonstration layers (the area each is authoritative for).

The synthetic layers of ``ecozone_demo.gpkg`` were generated for Beijing only, and
some of them for a few districts only: a check elsewhere must say 数据不足
(insufficient data), never "未涉及" (see docs/rules.md, "Layer extents"). This module
holds those extents (:data:`DEMO_EXTENTS`, used by ``build_dataset.py`` when it builds
the store) and, run as a script, records them in an existing store in place (the
extents table is a few rows: the file keeps its size)::

    .venv/bin/python data/set_demo_extents.py [STORE]   # default data/ecozone_demo.gpkg

Layer checksums do not change (an extent is recorded beside a version, not in it).
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Beijing (北京市) and districts, as the boundary layer codes them.
_BEIJING = ["110000"]
_TONGZHOU = ["110112"]
_TONGZHOU_DAXING = ["110112", "110115"]
_CENTRAL_AND_TONGZHOU = ["110101", "110102", "110105", "110106", "110107", "110108", "110112"]

#: Layer kind → adcodes it is authoritative for (data/README.md describes each layer).
DEMO_EXTENTS: dict[str, list[str]] = {
    "redline": _BEIJING,
    "eco_control": _BEIJING,
    "control_unit": _BEIJING,  # the units tile the whole municipality
    "park": _BEIJING,
    "built_up": _BEIJING,
    "sponge": _BEIJING,
    # the wells (and the source zones around them) were made for the villages of
    # Tongzhou and Daxing only: elsewhere the demo has no drinking-water data
    "well": _TONGZHOU_DAXING,
    "water_source_zone": _TONGZHOU_DAXING,
    "residential": _CENTRAL_AND_TONGZHOU,
    "pollution_source": _TONGZHOU,
    "tongzhou_key_area": _TONGZHOU,
    "tongzhou_strict_zone": _TONGZHOU,
}


def record(path: Path) -> dict[str, list[str]]:
    """Record :data:`DEMO_EXTENTS` for the latest version of each layer in ``path``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from layers import LayerStore

    done: dict[str, list[str]] = {}
    with LayerStore(path, create=False) as store:
        listing = store.list_layers()
        for name, kind in zip(listing["name"], listing["kind"], strict=True):
            codes = DEMO_EXTENTS.get(str(kind))
            if codes is None:
                continue
            store.set_extent(str(name), None, {"adcodes": codes})
            done[str(name)] = codes
    return done


def main(argv: list[str] | None = None) -> int:
    """Record the demo extents in a store (default: the embedded one)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).with_name("ecozone_demo.gpkg")
    for name, codes in record(path).items():
        print(f"{name}: {','.join(codes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
