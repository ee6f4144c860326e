"""deploy/grafana/bridge.json as Grafana reads it: well-formed, covering what the issue lists.
(That every query runs and returns data is tests/deploy/test_prometheus.py, on a real Prometheus.)"""

from __future__ import annotations

from typing import Any

from tests.deploy.prom import dashboard, panel_queries

# Issue 6: request rate and error ratio per route, latency p50/p95/p99 per route, upstream latency
# and status per target, in-flight, breaker state, queue depth, dead letters, config reloads.
REQUIRED = {
    "bridge_requests_total": "route", "bridge_request_duration_seconds_bucket": "route",
    "bridge_upstream_duration_seconds_bucket": "target", "bridge_upstream_requests_total": "target, status",
    "bridge_inflight_requests": "route", "bridge_breaker_open": "target",
    "bridge_queue_depth": "route", "bridge_dead_letters_total": "route",
    "bridge_config_reloads_total": "result",
}


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def test_every_required_metric_is_charted_by_its_labels():
    exprs = [e for _, e in panel_queries()]
    for metric, by in REQUIRED.items():
        assert any(metric + "{" in e and f"by ({by}" in e for e in exprs), (metric, by)
    quantiles = {q for e in exprs if "bridge_request_duration_seconds_bucket" in e
                 for q in ("0.5", "0.95", "0.99") if f"histogram_quantile({q}," in e}
    assert quantiles == {"0.5", "0.95", "0.99"}


def test_panels_are_well_formed_and_do_not_overlap():
    all_panels = dashboard()["panels"]
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in all_panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
    for p in panels():
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        assert p.get("description"), f"{p['title']}: say what it shows and which alert it feeds"
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])


def test_every_query_filters_by_instance():
    for title, expr in panel_queries():
        assert 'instance=~".*"' in expr, title       # $instance substituted by "All"
