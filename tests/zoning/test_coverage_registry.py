"""The metric registry (#14): packs, ``measure_targets`` and the CLI read one table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecozone.cli.main import cli
from layers import open_store
from zoning.coverage.measure import measure_targets
from zoning.coverage.metrics import resolve_target
from zoning.coverage.registry import METRICS, MetricInputs, metric_spec
from zoning.pack import METRICS as PACK_METRICS
from zoning.pack import load_pack

REPO = Path(__file__).resolve().parents[2]
needs_demo = pytest.mark.skipif(
    not (REPO / "data" / "ecozone_demo.gpkg").is_file(), reason="demo store not built"
)


@pytest.fixture(scope="module")
def demo_layers():
    with open_store(None) as st:
        kinds = sorted(set(st.list_layers()["kind"].astype(str)))
        return {k: st.get_kind(k) for k in kinds}


def test_every_registered_metric_is_complete_and_valid_in_packs():
    assert tuple(METRICS) == PACK_METRICS  # a pack may name exactly the registered metrics
    for name, spec in METRICS.items():
        assert spec.name == name
        assert callable(spec.measure_function())
        assert spec.unit in ("%", "m2/person") and spec.comparison in (">=", "<=")
        # the registry's wording is the wording results carry without a pack target
        assert resolve_target(name, None) == (None, spec.comparison, spec.label, spec.unit, None)
    assert metric_spec("no_such_metric") is None


@needs_demo
def test_measure_targets_dispatches_through_the_registry(demo_layers, monkeypatch):
    pack = load_pack("beijing")
    both = {r.metric: r for r in measure_targets(pack, demo_layers, by=None)}
    only = measure_targets(pack, demo_layers, by=None, metrics=["redline_share"])
    assert [r.metric for r in only] == ["redline_share"]
    assert only[0].value == pytest.approx(both["redline_share"].value, rel=1e-12)
    # the red line target measured by the eco-control measure function: the registry,
    # not a name test in the code, decides what is measured
    calls: list[MetricInputs] = []
    eco = METRICS["eco_control_share"].measure_function()

    def spy(inp: MetricInputs):
        calls.append(inp)
        return eco(inp)

    import zoning.coverage.adapters as adapters

    monkeypatch.setattr(adapters, "spy_for_test", spy, raising=False)
    monkeypatch.setitem(
        METRICS,
        "redline_share",
        dataclasses.replace(
            METRICS["redline_share"],
            kinds=("eco_control",),
            measure="zoning.coverage.adapters:spy_for_test",
        ),
    )
    swapped = measure_targets(pack, demo_layers, by=None, metrics=["redline_share"])
    assert len(calls) == 1 and calls[0].target.metric == "redline_share"
    assert swapped[0].value == pytest.approx(both["eco_control_share"].value, rel=1e-9)
    assert swapped[0].value != pytest.approx(both["redline_share"].value, rel=1e-3)


@needs_demo
def test_cli_metric_option_reads_the_registry():
    runner = CliRunner()
    help_text = runner.invoke(cli, ["coverage", "--help"]).output
    for spec in METRICS.values():
        assert spec.name in help_text
    result = runner.invoke(
        cli, ["coverage", "--pack", "beijing", "--by", "none", "--json", "--metric",
              "redline_share", "--metric", "sponge_share"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = [m["metric"] for m in json.loads(result.stdout)["metrics"]]
    assert sorted(set(metrics)) == ["redline_share", "sponge_share"]
    bad = runner.invoke(cli, ["coverage", "--pack", "beijing", "--metric", "nope"])
    assert bad.exit_code == 2
    assert "--metric" in bad.output and "nope" in bad.output
