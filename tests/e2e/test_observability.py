"""DESIGN §4 metrics (names are contract) and health endpoints, read over real HTTP."""

from __future__ import annotations

from bridge import __version__

from tests.e2e.helpers import SERVLET, metric, metrics, post, sample, sim_fail

REQ = "bridge_requests_total"
UP = "bridge_upstream_requests_total"


async def test_metrics_count_requests_by_outcome(bridge, referral_sim, http):
    before = await metrics(http, bridge)
    assert metric(before, REQ, route="referral.apply", outcome="ok") == 0

    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"))).status == 200
    after_ok = await metrics(http, bridge)
    assert metric(after_ok, REQ, route="referral.apply", outcome="ok") == 1.0
    assert metric(after_ok, REQ, route="referral.apply", outcome="upstream_error") == 0
    assert metric(after_ok, UP, target="referral_platform", status="200") == 1.0
    assert metric(after_ok, "bridge_request_duration_seconds_count", route="referral.apply") == 1.0
    assert metric(after_ok, "bridge_upstream_duration_seconds_count", target="referral_platform") == 1.0
    assert metric(after_ok, "bridge_inflight_requests", route="referral.apply") == 0

    await sim_fail(http, referral_sim, status=500)
    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"))).status == 200   # seed 001 (a): failure is result false, HTTP 200 (was 502)
    after_fail = await metrics(http, bridge)
    assert metric(after_fail, REQ, route="referral.apply", outcome="ok") == 1.0
    assert metric(after_fail, REQ, route="referral.apply", outcome="upstream_error") == 1.0
    assert metric(after_fail, UP, target="referral_platform", status="500") == 1.0
    assert metric(after_fail, UP, target="referral_platform", status="200") == 1.0

    # a bad request and an unknown root are counted too, under their own outcome
    bad = sample("referral.xml").replace(b"<orderid>c8e72a5f9670</orderid>", b"")
    assert (await post(http, bridge.url + SERVLET, bad)).status == 200   # seed 001 (a): failure is result false, HTTP 200 (was 422)
    assert (await post(http, bridge.url + SERVLET, "<nope/>")).status == 404
    last = await metrics(http, bridge)
    assert metric(last, REQ, route="referral.apply", outcome="bad_request") == 1.0
    assert metric(last, REQ, route="unmatched", outcome="no_route") == 1.0
    assert metric(last, UP, target="referral_platform", status="200") == 1.0   # nothing new upstream


async def test_metrics_exposition_has_the_contract_names(bridge, http):
    async with http.get(bridge.url + "/metrics") as r:
        assert r.status == 200
        assert r.content_type == "text/plain"
        text = await r.text()
    for name in ("bridge_requests_total", "bridge_request_duration_seconds",
                 "bridge_upstream_requests_total", "bridge_upstream_duration_seconds",
                 "bridge_inflight_requests", "bridge_retries_total", "bridge_breaker_open",
                 "bridge_queue_depth", "bridge_dead_letters_total", "bridge_step_errors_total",
                 "bridge_config_reloads_total", "bridge_build_info"):
        assert f"# TYPE {name} " in text or f"# TYPE {name.removesuffix('_total')} " in text, name
    samples = await metrics(http, bridge)
    assert metric(samples, "bridge_build_info", version=__version__) == 1.0
    assert metric(samples, "bridge_breaker_open", target="referral_platform") == 0


async def test_healthz_and_readyz(bridge, http):
    async with http.get(bridge.url + "/healthz") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ok"
    async with http.get(bridge.url + "/readyz") as r:
        assert r.status == 200
        body = await r.json()
        assert body["status"] == "ready"
        assert body["routes"] == len(bridge.runtime.routes) > 3
