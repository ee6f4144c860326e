"""Malformed XML: a 400 that says where (line, column); `recover: true` repairs the seed's own
broken sample (`</ mzzycxbz >`), counts it in /metrics, and a route without it refuses."""

from __future__ import annotations

import re

from tests.e2e.helpers import SERVLET, children, metric, metrics, post, sample, sim_requests

BAD_ATTR = '<referral-apply>\n  <orderid x="1>2</orderid>\n</referral-apply>\n'      # '<' at 2:18
MISMATCH = "<referral-apply>\n  <orderid>1</orderid>\n  <hzxm>测试患者</hzmx>\n</referral-apply>\n"


def position(message: str) -> tuple[int, int]:
    m = re.search(r"line (\d+), column (\d+)", message)
    assert m, message
    return int(m.group(1)), int(m.group(2))


async def test_malformed_xml_reports_line_and_column(run_bridge, referral_sim, http):
    async with run_bridge("strict.yaml", env={"REFERRAL_URL": referral_sim.url}) as b:
        reply = await post(http, b.url + SERVLET, BAD_ATTR)
        assert reply.status == 400, reply.body
        assert reply.media_type.endswith("xml")
        root = reply.xml()
        message = root.findtext(".//message")
        assert message and "malformed XML" in message
        assert position(message) == (2, 18)           # the unescaped '<' inside the attribute

        # columns count characters, not UTF-8 bytes: 测试患者 is 4 columns wide, the tag ends at 19
        reply = await post(http, b.url + SERVLET, MISMATCH)
        assert reply.status == 400, reply.body
        line, col = position(reply.xml().findtext(".//message"))
        assert line == 3
        assert 12 <= col <= 20, col

        # the same document in GBK: the same position
        gbk = ('<?xml version="1.0" encoding="GBK"?>\n' + MISMATCH).encode("gbk")
        reply = await post(http, b.url + SERVLET, gbk, {"Content-Type": "application/xml"})
        assert reply.status == 400
        assert position(reply.xml().findtext(".//message")) == (4, col)
    assert (await sim_requests(http, referral_sim)) == []


async def test_unrepairable_xml_is_400_even_with_recover(bridge, referral_sim, http):
    reply = await post(http, bridge.url + SERVLET, "<<<not xml at all")
    assert reply.status == 400, reply.body
    message = reply.xml().findtext(".//message")
    assert "line 1" in message and "column" in message
    assert (await sim_requests(http, referral_sim)) == []


async def test_recover_repairs_the_seed_sample_and_counts_it(bridge, referral_sim, http):
    data = sample("referral-apply-one.xml")
    assert b"</ mzzycxbz >" in data                     # the seed's own breakage, kept verbatim
    before = metric(await metrics(http, bridge), "bridge_xml_recovered_total", route="referral.push")
    reply = await post(http, bridge.url + SERVLET, data)
    assert reply.status == 200, reply.body
    assert children(reply.xml())["result"] == "true"
    seen = (await sim_requests(http, referral_sim))[0]["json"]
    assert seen["visit_type"] == "mz"                    # the repaired element kept its value
    assert seen["to_hospital_code"] == "ZR0001"
    after = metric(await metrics(http, bridge), "bridge_xml_recovered_total", route="referral.push")
    assert after == before + 1

    # a well-formed document is not counted as recovered
    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"))).status == 200
    samples = await metrics(http, bridge)
    assert metric(samples, "bridge_xml_recovered_total", route="referral.push") == after
    assert metric(samples, "bridge_xml_recovered_total", route="referral.apply") == 0


async def test_route_without_recover_refuses_the_seed_sample(run_bridge, referral_sim, http):
    async with run_bridge("strict.yaml", env={"REFERRAL_URL": referral_sim.url}) as b:
        reply = await post(http, b.url + SERVLET, sample("referral-apply-one.xml"))
        assert reply.status == 400, reply.body
        text = reply.body.decode()
        assert "malformed XML" in text and "line" in text and "column" in text
        samples = await metrics(http, b)
        assert metric(samples, "bridge_xml_recovered_total", route="referral.push.strict") == 0
        # a repaired copy of the same document goes through
        fixed = sample("referral-apply-one.xml").replace(b"</ mzzycxbz >", b"</mzzycxbz>")
        ok = await post(http, b.url + SERVLET, fixed)
        assert ok.status == 200, ok.body
    assert [r["path"] for r in await sim_requests(http, referral_sim)] == ["/referral/push"]
