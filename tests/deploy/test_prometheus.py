"""The dashboard and the alert rules, run against a real Prometheus scraping a real bridge.

One bridge (the shipped routes.yaml, the referral simulator on an ephemeral port) gets a little
traffic of several kinds; Prometheus (the Debian package) scrapes it every second with
deploy/prometheus/alerts.yml loaded. Then every panel query of deploy/grafana/bridge.json must
parse and return data, every alert expression must parse, and the one alert the traffic earns
(upstream error ratio) is the only one whose condition holds.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from bridge.sim import close_sims, load_builtin_sims, start_sims
from bridge.testing import RunningBridge, running_bridge
from tests.conftest import missing_tool
from tests.deploy.prom import (PROMETHEUS, PROMTOOL, Prom, alert_rules, dashboard_variables,
                               panel_queries, promtool, running_prometheus, substitute)
from tests.e2e.helpers import SERVLET, XML_UTF8, sample

@pytest.fixture(autouse=True)
def _needs_prometheus() -> None:
    if PROMETHEUS is None or PROMTOOL is None:
        missing_tool("prometheus and promtool (Debian package prometheus)")

SHIPPED = Path(__file__).resolve().parents[2] / "routes.yaml"
OK_REQUESTS, FAILED_REQUESTS = 9, 4          # 4 of 13 upstream errors: over the 5% alert bound
NEVER = "0001-01-01T00:00:00Z"                # Prometheus' lastEvaluation of a rule not yet run


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def referral_sim() -> AsyncIterator[Any]:
    load_builtin_sims()
    sims = await start_sims(["referral"], ports={"referral": 0})
    try:
        yield sims[0]
    finally:
        await close_sims(sims)


@pytest.fixture
async def bridge(referral_sim: Any) -> AsyncIterator[RunningBridge]:
    async with running_bridge(SHIPPED, env={"REFERRAL_URL": referral_sim.url}) as b:
        yield b


async def _post(http: aiohttp.ClientSession, url: str, body: bytes) -> int:
    async with http.post(url, data=body, headers=XML_UTF8) as r:
        await r.read()
        return r.status


async def send_traffic(http: aiohttp.ClientSession, bridge: RunningBridge, sim: Any) -> None:
    """ok, bad request, no route and upstream errors (the simulator's failure switch)."""
    good = sample("referral.xml")
    url = bridge.url + SERVLET
    for _ in range(OK_REQUESTS):
        assert await _post(http, url, good) == 200
    # the servlet's failures are result false in an HTTP 200 (seed 001 (a)); their outcome
    # labels (bad_request, upstream_error) are what the dashboard and the alerts read
    assert await _post(http, url, good.replace(b"<orderid>c8e72a5f9670</orderid>", b"")) == 200
    assert await _post(http, url, b"<nope/>") == 404
    async with http.post(sim.url + "/_sim/fail", json={"status": 500, "times": FAILED_REQUESTS}) as r:
        assert r.status == 200
    for _ in range(FAILED_REQUESTS):
        assert await _post(http, url, good) == 200


async def test_dashboard_and_alerts_against_real_prometheus(bridge, referral_sim, http, tmp_path):
    async with running_prometheus(tmp_path, f"127.0.0.1:{bridge.port}") as prom:
        # two scrapes before the traffic, so rate() and increase() see it arrive
        await prom.wait_for('count_over_time(up{job="bridge"}[1m])', 2)
        assert await prom.value('up{job="bridge"}') == 1.0
        await send_traffic(http, bridge, referral_sim)
        await prom.wait_for('bridge_requests_total{route="referral.apply",outcome="upstream_error"}',
                            FAILED_REQUESTS)
        scrapes = await prom.value('count_over_time(up{job="bridge"}[1m])')
        assert scrapes is not None
        await prom.wait_for('count_over_time(up{job="bridge"}[1m])', scrapes + 2)

        await check_panels(prom)
        await check_variables(prom)
        await check_alert_expressions(prom)
        await check_rules_loaded(prom)

        async with http.get(bridge.url + "/metrics") as r:
            exposition = await r.text()
    lint = promtool("check", "metrics", stdin=exposition)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr


async def check_panels(prom: Prom) -> None:
    """Every query of every panel parses and returns at least one series with a real number."""
    problems: list[str] = []
    queries = list(panel_queries())
    assert len(queries) >= 20, "the dashboard lost panels"
    for title, expr in queries:
        body = await prom.query(expr)
        if body["status"] != "success":
            problems.append(f"{title}: {body.get('error')}\n    {expr}")
            continue
        values = [float(s["value"][1]) for s in body["data"]["result"]]
        if not values:
            problems.append(f"{title}: no data\n    {expr}")
        elif not any(math.isfinite(v) for v in values):
            problems.append(f"{title}: only NaN/Inf\n    {expr}")
    assert not problems, "\n".join(problems)


async def check_variables(prom: Prom) -> None:
    """Each `label_values(metric, label)` variable offers values (the metric carries the label)."""
    for name, var in dashboard_variables().items():
        if var["type"] != "query":
            continue
        definition = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        assert definition.startswith("label_values(") and definition.endswith(")"), definition
        metric, _, label = substitute(definition[len("label_values("):-1]).rpartition(",")
        body = await prom.api(f"label/{label.strip()}/values", **{"match[]": metric.strip()})
        assert body["status"] == "success", (name, body)
        assert body["data"], f"variable ${name}: {definition} offers nothing"


async def check_alert_expressions(prom: Prom) -> None:
    """Each alert condition parses; under this traffic only the upstream error ratio holds."""
    holding: dict[str, list[dict[str, str]]] = {}
    for rule in alert_rules():
        body = await prom.query(rule["expr"])
        assert body["status"] == "success", (rule["alert"], body.get("error"))
        if body["data"]["result"]:
            holding[rule["alert"]] = [s["metric"] for s in body["data"]["result"]]
    assert set(holding) == {"BridgeHighErrorRatio"}, holding
    assert [m["route"] for m in holding["BridgeHighErrorRatio"]] == ["referral.apply"]


async def check_rules_loaded(prom: Prom) -> None:
    """Prometheus loaded every rule of alerts.yml and evaluates it without error."""
    names = {r["alert"] for r in alert_rules()}
    rules: list[dict[str, Any]] = []
    for _ in range(50):                     # bounded: evaluation runs every second
        body = await prom.api("rules")
        rules = [r for g in body["data"]["groups"] for r in g["rules"]]
        if rules and all(r.get("lastEvaluation") != NEVER for r in rules):
            break
        await asyncio.sleep(0.2)
    assert {r["name"] for r in rules} == names
    bad = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not bad, bad
    pending = {r["name"] for r in rules if r["state"] != "inactive"}
    assert pending <= {"BridgeHighErrorRatio"}, pending
