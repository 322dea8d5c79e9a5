"""Regenerate the golden example reports in docs/examples/ (one scenario per pack).

Each scenario checks one site of the embedded demo dataset against one rule pack and
writes the report in every format (``report.json``, ``report.html``, ``report.docx``,
``report.pdf``) to ``docs/examples/<pack>/``. The site is picked from the demo data by
a rule (the first feature of a layer inside the pack's jurisdiction, by feature id), so
that the examples follow the data. ``tests/zoning/test_report_examples.py`` rebuilds
the reports and compares their structure with these files (not their timestamps).

Usage::

    python scripts/make_examples.py            # all packs
    python scripts/make_examples.py tongzhou   # one

Run it again whenever the engine, a pack or the demo data changes a verdict, and
commit the result.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "examples"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Scenario:
    """A site taken from the demo data, and the project checked there."""

    pack: str
    title: str
    #: layer kind the site is taken from (its first feature in the jurisdiction), or
    #: None for a point of the jurisdiction itself
    kind: str | None
    #: metres east of the feature's representative point (0: on it)
    offset_m: float = 0.0
    project: dict[str, Any] = field(default_factory=dict)


SCENARIOS = (
    Scenario("beijing", "红线内的新建仓储项目", "redline",
             project={"name": "示例：仓储物流项目", "project_type": "industrial",
                      "industry_code": "G5951"}),
    Scenario("tongzhou", "严控区内的施工工地", "strict_zone",
             project={"name": "示例：通州某住宅项目施工工地", "project_type": "construction",
                      "flags": ["sewage"]}),
    Scenario("daxing", "水源井旁的养殖场", "well", offset_m=20.0,
             project={"name": "示例：大兴某养殖场", "project_type": "agriculture",
                      "flags": ["manure"]}),
    Scenario("jiangjin", "江津区的化工项目", None,
             project={"name": "示例：江津某化工项目", "project_type": "industrial",
                      "industry_code": "C2614", "flags": ["wastewater"]}),
    Scenario("guangxi", "广西的工业项目", None,
             project={"name": "示例：广西某工业项目", "project_type": "industrial",
                      "flags": ["wastewater"]}),
)  # fmt: skip


def _site(scenario: Scenario, store: Any, pack: Any) -> Any:
    """The scenario's site: a one-row GeoDataFrame (lon/lat)."""
    import geopandas as gpd
    import shapely

    boundary = store.get_kind("boundary").gdf
    codes = [str(c) for c in pack.jurisdiction.adcodes]
    area = shapely.union_all(boundary[boundary["adcode"].astype(str).isin(codes)].geometry)
    point = area.representative_point()
    if scenario.kind is not None:
        gdf = store.get_kind(scenario.kind).gdf
        inside = gdf[gdf.intersects(area)].sort_values("feature_id")
        if len(inside):
            point = inside.geometry.iloc[0].representative_point()
    if scenario.offset_m:
        from pyproj import Geod

        lon, lat, _ = Geod(ellps="GRS80").fwd(point.x, point.y, 90.0, scenario.offset_m)
        point = shapely.Point(lon, lat)
    point = shapely.Point(round(point.x, 7), round(point.y, 7))
    return gpd.GeoDataFrame({"site_id": [scenario.pack]}, geometry=[point], crs="EPSG:4326")


def example_report(scenario: Scenario, store: Any) -> tuple[dict[str, Any], Any, Any]:
    """Check the scenario's site: (report dict, checker, checked sites)."""
    from zoning.pack import load_pack
    from zoning.project import Project
    from zoning.report.build import build_report
    from zoning.workflow import make_checker

    pack = load_pack(scenario.pack)
    with warnings.catch_warnings():  # layers the demo lacks: their rules are 数据不足
        warnings.simplefilter("ignore")
        checker = make_checker(pack, store, missing_layers="skip")
    kw = dict(scenario.project)
    kw["flags"] = frozenset(kw.get("flags", ()))
    project = Project(**kw)
    result = checker.check(_site(scenario, store, pack), project=project)
    report = build_report(result, project=project, pack=pack)
    report["title"] = f"{report['title']}（{scenario.title}）"
    return report, checker, result.sites


def demo_store(folder: str | Path | None = None) -> Any:
    """A private copy of the embedded demo dataset (in ``folder``, default a temporary one)."""
    from layers import embedded_dataset_path, open_store

    demo = embedded_dataset_path()
    if demo is None:
        msg = "the embedded demo dataset is not built: run `make data` first"
        raise SystemExit(msg)
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="ecozone-ex-"))
    copy = folder / "demo.gpkg"
    shutil.copyfile(demo, copy)
    return open_store(str(copy))


def main(argv: list[str]) -> int:
    """Write docs/examples/<pack>/report.* for the scenarios named (default all)."""
    from maps.sitemap import site_map_png
    from zoning.report.build import write_reports
    from zoning.workflow import checker_layer_frames

    wanted = set(argv) or {s.pack for s in SCENARIOS}
    with demo_store() as store:
        for scenario in SCENARIOS:
            if scenario.pack not in wanted:
                continue
            report, checker, sites = example_report(scenario, store)
            png = site_map_png(sites, checker_layer_frames(checker), dpi=100)
            written = write_reports(report, OUT / scenario.pack, map_png=png)
            print(f"{scenario.pack}: {report['verdict']['label_zh']} → "
                  f"{', '.join(p.name for p in written.values())}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
