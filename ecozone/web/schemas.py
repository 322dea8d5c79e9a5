"""Request bodies of the REST API (pydantic models; they shape the OpenAPI spec)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["COORD_SYSTEMS", "CheckRequest", "ProjectIn"]

#: Coordinate systems of site input; "gk" needs ``gk_zone``.
COORD_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09", "gk")

ProjectType = Literal["construction", "residential", "industrial", "linear", "agriculture", "other"]
Flag = Literal["wastewater", "vocs", "sewage", "garbage", "toilets", "manure"]


class ProjectIn(BaseModel):
    """The project attributes the rules use (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200, description="项目名称, shown in the report")
    project_type: ProjectType | None = Field(None, description="项目类型")
    industry_code: str | None = Field(
        None, max_length=16, description="GB/T 4754-2017 industry code, e.g. C2614"
    )
    flags: list[Flag] = Field(default_factory=list, max_length=6, description="项目活动")
    development: Literal["new", "expansion"] = Field("new", description="新建 / 改扩建")
    temporary_land_use: bool = Field(False, description="临时用地")
    water_supply: bool = Field(False, description="供水设施")
    exits: str | list[list[float]] | None = Field(
        None,
        max_length=2000,
        description=(
            "Site exit points: 'lon,lat; lon,lat' or [[lon, lat], ...], in the request's "
            "lon/lat system (WGS84 when coords is 'gk')"
        ),
    )


class CheckRequest(BaseModel):
    """One site to check: a GeoJSON geometry or coordinates text, and the project."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "pack": "beijing",
                    "coordinates": "116.70,39.90",
                    "coords": "wgs84",
                    "project": {"name": "示例项目", "project_type": "industrial"},
                }
            ]
        },
    )

    pack: str = Field(
        "beijing", max_length=40, description="Rule pack name (GET /api/packs lists them)"
    )
    geometry: dict[str, Any] | None = Field(
        None, description="GeoJSON geometry (or Feature) of the site"
    )
    coordinates: str | None = Field(
        None,
        max_length=2_000_000,
        description="Coordinates text instead of geometry: '116.40,39.91', pairs, WKT, GeoJSON",
    )
    coords: Literal["wgs84", "cgcs2000", "gcj02", "bd09", "gk"] = Field(
        "wgs84", description="System of the input coordinates"
    )
    gk_zone: int | None = Field(
        None, ge=25, le=45, description="3° Gauss-Krüger zone (Beijing 39) when coords is 'gk'"
    )
    project: ProjectIn = Field(default_factory=ProjectIn)
    lang: Literal["zh", "en"] = "zh"
