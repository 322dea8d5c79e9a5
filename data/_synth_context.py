"""Shared context of the synthetic generators: Beijing's districts in a metric CRS.

Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

# CGCS2000 / 3-degree Gauss-Krüger CM 117E (no zone prefix): Beijing's zone.
METRIC_CRS = "EPSG:4548"

MOUNTAIN = ("110109", "110111", "110114", "110116", "110117", "110118", "110119")
CENTRAL = ("110101", "110102", "110105", "110106", "110107", "110108")
TONGZHOU = "110112"
DAXING = "110115"

# Tiananmen, WGS84: the centre of the mountain/plain gradient and of the urban core.
CENTRE_LONLAT = (116.3975, 39.9087)


@dataclass
class Context:
    """Beijing in EPSG:4548 plus the helpers every generator needs.

    Attributes
    ----------
    districts
        The 16 districts (``adcode``, ``name``, geometry) in metres.
    beijing
        Beijing municipality outline in metres.
    districts_ll
        The same districts in EPSG:4326, exactly as given (for cuts that must
        follow the district lines vertex for vertex in lon/lat).
    """

    districts: gpd.GeoDataFrame
    beijing: shapely.Geometry
    districts_ll: gpd.GeoDataFrame
    mountain_area: shapely.Geometry = field(init=False)
    centre: tuple[float, float] = field(init=False)
    _to_metric: Transformer = field(init=False, repr=False)
    _to_lonlat: Transformer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
        self._to_lonlat = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        self.centre = self.xy(*CENTRE_LONLAT)
        self.mountain_area = shapely.union_all(self.geoms(MOUNTAIN))
        shapely.prepare(self.mountain_area)
        shapely.prepare(self.beijing)
        shapely.prepare(self.districts.geometry.values)

    @classmethod
    def from_boundaries(cls, boundaries: gpd.GeoDataFrame) -> Context:
        """Build the context from the boundary layer (any CRS, WGS84 expected).

        Parameters
        ----------
        boundaries
            Rows with ``adcode`` 110000 and the 16 district adcodes 110101…110119.
        """
        ll = boundaries.to_crs("EPSG:4326")
        codes = ll["adcode"].astype(str)
        dist_ll = ll[codes.str.startswith("1101")][["adcode", "name", "geometry"]]
        dist_ll = dist_ll.sort_values("adcode").reset_index(drop=True)
        dist = dist_ll.to_crs(METRIC_CRS)
        b = ll.to_crs(METRIC_CRS)
        if len(dist) != 16 or not (codes == "110000").any():
            msg = (
                "boundaries: expected Beijing (adcode 110000) and its 16 districts "
                f"(1101xx), got adcodes {sorted(codes)}"
            )
            raise ValueError(msg)
        beijing = b.geometry[codes == "110000"].iloc[0]
        return cls(districts=dist, beijing=beijing, districts_ll=dist_ll)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """WGS84 lon/lat → metric x/y."""
        x, y = self._to_metric.transform(lon, lat)
        return float(x), float(y)

    def to_lonlat(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """Metric geometries → EPSG:4326 (vertex by vertex)."""

        def f(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.column_stack(self._to_lonlat.transform(xy[:, 0], xy[:, 1]))

        return shapely.transform(geoms, f)

    def geom(self, adcode: str) -> shapely.Geometry:
        """The district outline of one adcode."""
        return self.districts.geometry[self.districts["adcode"] == adcode].iloc[0]

    def geoms(self, adcodes: tuple[str, ...] | list[str]) -> NDArray[np.object_]:
        """District outlines of several adcodes."""
        return self.districts.geometry[self.districts["adcode"].isin(adcodes)].values

    def name(self, adcode: str) -> str:
        """Chinese district name of one adcode."""
        return str(self.districts["name"][self.districts["adcode"] == adcode].iloc[0])

    def district_of(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.object_]:
        """Adcode of the district containing each point ("" outside Beijing)."""
        out = np.full(np.size(x), "", dtype=object)
        for code, g in zip(self.districts["adcode"], self.districts.geometry, strict=True):
            out[shapely.contains_xy(g, x, y)] = code  # 16 vectorised tests
        return out

    def mountainness(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """0 on the plain … 1 deep in the northern and western mountains.

        A proxy, not terrain: distance from the city centre, counted only inside the
        seven mountain districts (Mentougou, Fangshan, Changping, Huairou, Pinggu,
        Miyun, Yanqing), ramping from 0 at 22 km to 1 at 50 km.
        """
        d = np.hypot(np.asarray(x) - self.centre[0], np.asarray(y) - self.centre[1])
        m = np.clip((d - 22_000.0) / 28_000.0, 0.0, 1.0)
        return np.where(shapely.contains_xy(self.mountain_area, x, y), m, 0.0)
