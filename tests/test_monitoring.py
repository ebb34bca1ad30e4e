"""The Grafana dashboard (deploy/grafana/werkcentrum-gids.json) asks only for metrics the code
defines, through the dashboard's datasource variable, so the two cannot drift apart."""
from __future__ import annotations

import json
import re
from pathlib import Path

from bot.metrics import GatewayMetrics, WorkerMetrics

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "werkcentrum-gids.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def defined_series() -> set:
    """Every series name the gateway's and the worker's registries expose."""
    names = set()
    for registry in (GatewayMetrics().registry, WorkerMetrics().registry):
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def test_the_dashboard_refers_only_to_metrics_the_code_defines():
    dashboard = json.loads(DASHBOARD.read_text())
    defined = defined_series()
    assert {"gids_gateway_turns_total", "gids_gateway_turn_seconds_bucket", "gids_outbox_pending"} <= defined
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    titles, used = [], set()
    for panel in dashboard["panels"]:
        titles.append(panel["title"])
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\b(gids_[a-z0-9_]+)", target["expr"]))
            assert names, f"{panel['title']}: no gids metric in {target['expr']}"
            assert names <= defined, f"{panel['title']}: {sorted(names - defined)} is not defined in bot/metrics.py"
            used |= names
    assert len(set(titles)) == len(titles)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    # The panels the README promises.
    for needed in ("gids_gateway_turns_total", "gids_gateway_turn_seconds_bucket", "gids_gateway_fallbacks_total",
                   "gids_handovers_last_hour", "gids_outbox_pending", "gids_gateway_cores_ready"):
        assert needed in used, needed


def test_a_renamed_metric_would_be_caught():
    """The check above is not vacuous: a name the code does not define is not in the set."""
    defined = defined_series()
    assert "gids_gateway_turns" not in defined and "gids_gateway_turn_seconds" not in defined
    assert "gids_outbox_pending_total" not in defined
