"""DESIGN §4: every failure answers in the caller's dialect with the right HTTP status, says what
was wrong, and never shows a traceback (every reply goes through helpers.post -> assert_clean)."""

from __future__ import annotations

import aiohttp

from tests.e2e.helpers import (SERVLET, XML_UTF8, assert_clean, children, closed_port, metric,
                               metrics, post, sample, sim_fail, sim_requests)


async def test_unknown_root_is_404_listing_the_expected_roots(bridge, referral_sim, http):
    reply = await post(http, bridge.url + SERVLET, "<referral-cancel><orderid>1</orderid></referral-cancel>")
    assert reply.status == 404, reply.body
    assert reply.media_type.endswith("xml")
    text = reply.xml().findtext(".//message")
    assert "referral-cancel" in text
    for root in ("referral", "referral-query", "referral-apply"):
        assert root in text
    assert (await sim_requests(http, referral_sim)) == []


async def test_json_on_the_xml_path_is_415(bridge, referral_sim, http):
    reply = await post(http, bridge.url + SERVLET, b'{"orderid": "1"}',
                       {"Content-Type": "application/json"})
    assert reply.status == 415, reply.body
    assert "application/json" in reply.body.decode()
    assert (await sim_requests(http, referral_sim)) == []


async def test_unknown_path_is_404(bridge, http):
    reply = await post(http, bridge.url + "/referral/api/Nope", sample("referral.xml"))
    assert reply.status == 404


async def test_empty_body_is_400_in_xml(bridge, referral_sim, http):
    reply = await post(http, bridge.url + SERVLET, b"   ")
    assert reply.status == 400, reply.body
    assert "empty" in reply.xml().findtext(".//message")


async def test_body_over_max_body_is_413(run_bridge, referral_sim, http):
    big = sample("referral-query.xml").replace(b"</referral-query>",
                                               b"<pad>" + b"x" * 2048 + b"</pad></referral-query>")
    async with run_bridge("limits.yaml", env={"REFERRAL_URL": referral_sim.url}) as b:
        small = await post(http, b.url + SERVLET, sample("referral-query.xml"))
        assert small.status == 200, small.body            # the limit is not hit by a normal request

        reply = await post(http, b.url + SERVLET, big)     # Content-Length declared
        assert reply.status == 413, reply.body
        assert reply.media_type.endswith("xml")
        assert "max_body" in reply.body.decode() and "1024" in reply.body.decode()

        async def chunks():                                # chunked: no Content-Length to trust
            for i in range(0, len(big), 256):
                yield big[i:i + 256]
        async with http.post(b.url + SERVLET, data=chunks(), headers=XML_UTF8) as r:
            body = await r.read()
            assert r.status == 413, body
            assert_clean(body)
    assert [r["path"] for r in await sim_requests(http, referral_sim)] == ["/referral/query"]


async def test_require_failure_is_422_in_the_errors_template(bridge, referral_sim, http):
    data = (sample("referral.xml").replace(b"<orderid>c8e72a5f9670</orderid>", b"")
            .replace("<hzxm>测试患者</hzxm>".encode(), b"<hzxm></hzxm>"))
    reply = await post(http, bridge.url + SERVLET, data)
    assert reply.status == 200, reply.body   # seed 001 (a): failure is result false, HTTP 200 (was 422)
    root = reply.xml()
    assert root.tag == "referral"                      # errors.template shape, caller's root
    out = children(root)
    assert set(out) == {"result", "message"}
    assert out["result"] == "false"
    assert "orderid" in out["message"] and "hzxm" in out["message"]      # the caller's pinyin names
    assert "from_hospital_code" not in out["message"]  # only what is missing is named
    assert (await sim_requests(http, referral_sim)) == []


async def test_too_long_field_is_422_naming_it(bridge, referral_sim, http):
    data = sample("referral.xml").replace(b"<orderid>c8e72a5f9670</orderid>",
                                          b"<orderid>" + b"9" * 65 + b"</orderid>")
    reply = await post(http, bridge.url + SERVLET, data)
    assert reply.status == 200, reply.body   # seed 001 (a): failure is result false, HTTP 200 (was 422)
    assert "orderid" in children(reply.xml())["message"]


async def test_target_down_is_502_result_false(run_bridge, http):
    env = {"REFERRAL_URL": f"http://127.0.0.1:{closed_port()}"}
    from tests.e2e.conftest import SHIPPED
    async with run_bridge(SHIPPED, env=env) as b:
        reply = await post(http, b.url + SERVLET, sample("referral.xml"))
        assert reply.status == 200, reply.body   # seed 001 (a): failure is result false, HTTP 200 (was 502)
        out = children(reply.xml())
        assert reply.xml().tag == "referral"
        assert out["result"] == "false"
        assert "referral_platform" in out["message"]
        samples = await metrics(http, b)
    assert metric(samples, "bridge_requests_total", route="referral.apply", outcome="upstream_error") == 1
    assert metric(samples, "bridge_upstream_requests_total", target="referral_platform", status="error") == 1


async def test_target_http_500_is_502(bridge, referral_sim, http):
    await sim_fail(http, referral_sim, status=500)
    reply = await post(http, bridge.url + SERVLET, sample("referral.xml"))
    assert reply.status == 200, reply.body   # seed 001 (a): failure is result false, HTTP 200 (was 502)
    out = children(reply.xml())
    assert out["result"] == "false" and "500" in out["message"]
    # not retried: sync routes retry only when idempotent
    assert len(await sim_requests(http, referral_sim)) == 1


async def test_slow_target_is_504(run_bridge, referral_sim, http):
    async with run_bridge("limits.yaml", env={"REFERRAL_URL": referral_sim.url}) as b:
        await sim_fail(http, referral_sim, delay_ms=800)
        reply = await post(http, b.url + SERVLET, sample("referral-query.xml"))
        assert reply.status == 504, reply.body
        root = reply.xml()
        assert root.tag == "referral-query"
        out = children(root)
        assert out["result"] == "error"
        assert "0.2s" in out["message"] or "200" in out["message"]
        samples = await metrics(http, b)
        assert metric(samples, "bridge_requests_total", route="referral.query.limited", outcome="timeout") == 1
        assert metric(samples, "bridge_upstream_requests_total", target="referral_platform", status="timeout") == 1
        # the next request, with the switch disarmed, goes through within the timeout
        ok = await post(http, b.url + SERVLET, sample("referral-query.xml"))
        assert ok.status == 200, ok.body


async def test_wrong_method_and_wsdl_are_not_tracebacks(bridge, http):
    async with http.get(bridge.url + SERVLET) as r:
        body = await r.read()
        assert r.status == 405
        assert_clean(body)
    async with http.put(bridge.url + SERVLET, data=b"<referral/>") as r:
        assert r.status == 405
        assert_clean(await r.read())


async def test_garbage_bytes_and_odd_charsets_never_leak_a_traceback(bridge, referral_sim, http):
    cases = [
        (b"\x00\x01\x02\xff\xfe", {"Content-Type": "application/xml"}),
        (sample("referral.xml"), {"Content-Type": "application/xml; charset=utf-16"}),
        (sample("referral.xml"), {"Content-Type": "application/xml; charset=no-such-charset"}),
        ("<referral>" + "<a>" * 500 + "</a>" * 500 + "</referral>", XML_UTF8),   # too deep
        (b"<referral><orderid>\xff\xfe</orderid></referral>", XML_UTF8),        # bad UTF-8
    ]
    for data, headers in cases:
        reply = await post(http, bridge.url + SERVLET, data, headers)
        assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert (await sim_requests(http, referral_sim)) == []


async def test_errors_in_json_dialect_for_json_media_on_unknown_path(bridge, http):
    async with http.post(bridge.url + "/nothing/here", json={"a": 1}) as r:
        assert r.status == 404
        assert r.content_type == "application/json"
        assert (await r.json())["error"]["code"] == "no_route"


async def test_client_disconnect_does_not_break_the_bridge(bridge, referral_sim, http):
    await sim_fail(http, referral_sim, delay_ms=300)
    try:
        async with http.post(bridge.url + SERVLET, data=sample("referral.xml"), headers=XML_UTF8,
                             timeout=aiohttp.ClientTimeout(total=0.05)) as r:
            await r.read()
    except (aiohttp.ClientError, TimeoutError):
        pass
    ok = await post(http, bridge.url + SERVLET, sample("referral.xml"))
    assert ok.status == 200, ok.body


async def test_request_id_is_returned_on_errors_too(bridge, referral_sim, http):
    h = {"Content-Type": "application/xml", "X-Request-ID": "err-rid-1"}
    for data in ("<nope/>", "<<<", sample("referral.xml").replace(b"<orderid>c8e72a5f9670</orderid>", b"")):
        reply = await post(http, bridge.url + SERVLET, data, h)
        # malformed or unknown documents: 4xx; a <referral> missing a field: result false, 200
        assert reply.status >= 400 or b"<result>false</result>" in reply.body, reply.body
        assert reply.headers["X-Request-ID"] == "err-rid-1"
