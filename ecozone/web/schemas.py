"""Request bodies of the REST API (pydantic models; they shape the OpenAPI spec)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ecozone.web.settings import WebSettings
from zoning.project import ACTIVITIES, FLAGS, PROJECT_TYPES

__all__ = ["COORD_SYSTEMS", "CheckRequest", "CleanStr", "ProjectIn", "clean_text"]

# Characters no report format can hold (XML 1.0 refuses them, UTF-8 cannot encode a
# lone surrogate): C0 controls other than tab/newline/return, DEL, surrogates, U+FFFE/F.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str) -> str:
    """Refuse text holding a character documents cannot hold (NUL, controls, surrogates).

    Raises
    ------
    ValueError
        Naming the first such character (answered 422 by the API).
    """
    m = _UNSAFE.search(value)
    if m is not None:
        msg = (
            f"包含无法写入文档的控制字符 / contains the control character U+{ord(m.group()):04X} "
            f"at position {m.start() + 1}, which reports (DOCX, PDF, XML) cannot hold; remove it"
        )
        raise ValueError(msg)
    return value


#: A text field of a request: control characters are refused (422).
CleanStr = Annotated[str, AfterValidator(clean_text)]

#: Coordinate systems of site input; "gk" needs ``gk_zone``.
COORD_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09", "gk")

#: Project types, flags and limited human activities: the engine's vocabularies
#: (zoning.project.PROJECT_TYPES, FLAGS, ACTIVITIES — 自然资发〔2022〕142号).
ProjectType = Literal[tuple(PROJECT_TYPES)]  # type: ignore[valid-type]
Flag = Literal[tuple(FLAGS)]  # type: ignore[valid-type]
Activity = Literal[tuple(ACTIVITIES)]  # type: ignore[valid-type]


class ProjectIn(BaseModel):
    """The project attributes the rules use (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: CleanStr = Field("", max_length=200, description="项目名称, shown in the report")
    project_type: ProjectType | None = Field(None, description="项目类型")
    industry_code: CleanStr | None = Field(
        None, max_length=16, description="GB/T 4754-2017 industry code, e.g. C2614"
    )
    flags: list[Flag] = Field(default_factory=list, max_length=len(FLAGS), description="项目活动")
    development: Literal["new", "expansion"] = Field("new", description="新建 / 改扩建")
    temporary_land_use: bool = Field(False, description="临时用地")
    water_supply: bool = Field(False, description="供水设施")
    activity: Activity | None = Field(
        None,
        description=(
            "有限人为活动 (limited human activity the project declares, 自然资发〔2022〕142号): "
            "lets the plans' exceptions apply, e.g. linear_infrastructure turns a red-line "
            "prohibition into 限制（需论证）"
        ),
    )
    exits: CleanStr | list[list[float]] | None = Field(
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
                    "pack": WebSettings.model_fields["default_pack"].default,
                    "coordinates": "116.70,39.90",
                    "coords": "wgs84",
                    "project": {"name": "示例项目", "project_type": "industrial"},
                }
            ]
        },
    )

    pack: CleanStr | None = Field(
        None,
        max_length=40,
        description="Rule pack name (GET /api/packs lists them); default: the server's "
        "default_pack setting",
    )
    geometry: dict[str, Any] | None = Field(
        None, description="GeoJSON geometry (or Feature) of the site"
    )
    coordinates: CleanStr | None = Field(
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
    radii: list[Annotated[float, Field(gt=0, le=50_000)]] | None = Field(
        None,
        max_length=6,
        description="Screening radii in metres (周边筛查): the answer gains 'screening', every "
        "layer feature within them with distance and direction",
    )
    confirm_large: bool = Field(
        False,
        description="Check a site larger than the server's max_site_km2 anyway (else 409)",
    )
    lang: Literal["zh", "en"] = "zh"
