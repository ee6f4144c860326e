"""The tallied request series: what a scrape reads is exactly what per-request observations
would have given."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bridge.observability.metrics import _LATENCY, Metrics


def test_a_read_of_the_registry_sees_every_request_so_far() -> None:
    m = Metrics()
    for _ in range(3):
        m.request_done("r", "ok", 0.004)
    m.request_done("r", "timeout", 5.0)
    m.upstream_done("t", "200", 0.002)
    get = m.registry.get_sample_value
    assert get("bridge_requests_total", {"route": "r", "outcome": "ok"}) == 3
    assert get("bridge_requests_total", {"route": "r", "outcome": "timeout"}) == 1
    assert get("bridge_upstream_requests_total", {"target": "t", "status": "200"}) == 1
    m.request_done("r", "ok", 0.004)
    assert get("bridge_requests_total", {"route": "r", "outcome": "ok"}) == 4, "no stale read"
    text = generate_latest(m.registry).decode()
    assert 'bridge_request_duration_seconds_count{route="r"} 5.0' in text


def test_tallied_histograms_equal_observed_ones() -> None:
    rng = random.Random(7)
    samples = [rng.choice([0.0, 0.001, 0.0025, 30.0, 31.0]) if i % 5 == 0 else rng.expovariate(50)
               for i in range(2000)]     # exact bucket bounds, zero and +Inf included
    m = Metrics()
    reference = Histogram("ref", "reference", ["route"], buckets=_LATENCY, registry=CollectorRegistry())
    for i, s in enumerate(samples):
        m.request_done("r", "ok", s)
        reference.labels("r").observe(s)
        if i % 700 == 0:
            m.flush()                   # batches of any size add up
    got = {(x.name, x.labels.get("le")): x.value for f in m.registry.collect() for x in f.samples
           if f.name == "bridge_request_duration_seconds" and x.labels.get("route") == "r"}
    want = {(x.name.replace("ref", "bridge_request_duration_seconds"), x.labels.get("le")): x.value
            for f in reference.collect() for x in f.samples}
    assert set(want) <= set(got)
    for key, value in want.items():
        if key[0].endswith("_created"):
            continue
        assert abs(got[key] - value) < 1e-9, key


def test_in_flight_requests_at_the_moment_of_the_scrape() -> None:
    m = Metrics()
    m.prepare(["a", "b"], [])
    m.started("a")
    m.started("a")
    m.started("b")
    m.finished("b")
    get = m.registry.get_sample_value
    assert get("bridge_inflight_requests", {"route": "a"}) == 2
    assert get("bridge_inflight_requests", {"route": "b"}) == 0
    assert m.in_flight() == 2
    m.finished("a")
    m.finished("a")
    assert get("bridge_inflight_requests", {"route": "a"}) == 0 and m.in_flight() == 0


async def test_scrape_has_no_created_series_and_replies_name_no_versions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`*_created` series are off (they were a fifth of /metrics and nothing reads them); the
    `Server` header names the product, not the Python and aiohttp versions, on every reply."""
    import aiohttp

    from bridge.testing import running_bridge

    cfg = tmp_path / "routes.yaml"
    cfg.write_text("version: 1\ntargets:\n  t: {url: 'http://127.0.0.1:9'}\nroutes:\n"
                   "  - name: r\n    inbound: {path: /r, format: json}\n"
                   "    outbound: {target: t, path: /x, format: json}\n", encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/r", json={"a": 1}) as r:      # target down: 502
            assert r.status == 502 and r.headers["Server"] == "bridge"
        async with s.post(bridge.url + "/r", data=b"{", headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400 and r.headers["Server"] == "bridge"
        async with s.get(bridge.url + "/metrics") as r:
            assert r.headers["Server"] == "bridge"
            text = await r.text()
    assert "bridge_requests_total{" in text
    assert "_created" not in text
