"""Child process for the SIGKILL test: import a large synthetic layer into a store.

Usage: python _kill_import.py STORE_PATH N_FEATURES LAYER_NAME [import|restore]

Prints "version <n> <checksum>" when the import commits. The test kills this
process with SIGKILL while GDAL is still writing the feature table. ``restore``
writes the features with ``LayerStore.restore_version`` as version 2 of the layer
instead (with a placeholder checksum: the process is killed before it is compared).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import shapely

from layers.layer import Layer
from layers.store import LayerStore


def big_layer(n: int) -> gpd.GeoDataFrame:
    """N small squares on a grid around Beijing (deterministic)."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x = 116.0 + (i % side) * 0.002
    y = 39.5 + (i // side) * 0.002
    return gpd.GeoDataFrame(
        {"feature_id": np.char.add("big-", i.astype(str)), "name": "demo"},
        geometry=shapely.box(x, y, x + 0.001, y + 0.001),
        crs="EPSG:4326",
    )


def main() -> None:
    path, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    mode = sys.argv[4] if len(sys.argv) > 4 else "import"
    gdf = big_layer(n)
    print("writing", flush=True)
    with LayerStore(path) as store:
        if mode == "restore":
            copied = Layer(
                gdf=gdf, kind="redline", name=name, source="kill test", source_date=None,
                version=2, crs="EPSG:4326", row_count=n, checksum="0" * 64, synthetic=False,
                created_at=datetime(2020, 1, 1, tzinfo=UTC), source_crs="EPSG:4326",
            )  # fmt: skip
            layer = store.restore_version(copied)
        else:
            layer = store.import_layer(gdf, name=name, kind="redline", source="kill test")
    print("version", layer.version, layer.checksum, flush=True)


if __name__ == "__main__":
    main()
