"""Rebuild the demo access list (准入清单) and import it into the demo control units.

Writes ``data/access_list_demo.csv`` — the synthetic access list of every demo control
unit, in the form lists are published (环境管控单元编码, 管控维度, 管控要求, 效力,
行业代码) — from the latest ``control_unit`` layer of the demo GeoPackage, then imports
it the way a user imports an official list (``ecozone layers import-access-list``):
joined by unit code, stored as a new version of the layer. Run after any change to
the demo units (``data/build_dataset.py`` already builds them from the same table)::

    .venv/bin/python data/update_access_list.py [--store data/ecozone_demo.gpkg]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parent)):  # the _synth_* helpers, then the packages
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _synth_units import access_list_table  # noqa: E402

from layers import open_store  # noqa: E402
from zoning.access_list import import_access_list  # noqa: E402

CSV = _HERE / "access_list_demo.csv"
SEED = 20240611
#: Source of the new version: the demo label every synthetic layer carries, and the file.
SOURCE = (
    "演示数据，非官方 / demonstration data, not official. 合成准入清单 data/access_list_demo.csv"
)


def main(argv: list[str] | None = None) -> int:
    """Write the CSV and import it; print the new version. Returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(_HERE / "ecozone_demo.gpkg"))
    ap.add_argument("--csv", default=str(CSV))
    args = ap.parse_args(argv)
    with open_store(args.store) as st:
        units = st.get("control_unit").gdf
        order = np.argsort(units["unit_code"].to_numpy(dtype=str), kind="stable")
        table = access_list_table(
            units["unit_code"].to_numpy(dtype=object)[order],
            units["category"].to_numpy(dtype=object)[order],
            np.random.default_rng(SEED),
        )
        table.to_csv(args.csv, index=False, encoding="utf-8-sig")  # BOM: opens in Excel
        layer, errors = import_access_list(st, args.csv, units="control_unit", source=SOURCE)
    print(f"{args.csv}: {len(table)} rows; control_unit v{layer.version}, {len(errors)} rejected")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
