"""Child process for the SIGKILL test: import a large synthetic layer into a store.

Usage: python _kill_import.py STORE_PATH N_FEATURES LAYER_NAME

Prints "version <n> <checksum>" when the import commits. The test kills this
process with SIGKILL while GDAL is still writing the feature table.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import shapely

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
    gdf = big_layer(n)
    print("writing", flush=True)
    with LayerStore(path) as store:
        layer = store.import_layer(gdf, name=name, kind="redline", source="kill test")
    print("version", layer.version, layer.checksum, flush=True)


if __name__ == "__main__":
    main()
