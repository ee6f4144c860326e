"""The two-way referral servlet simulator (seed 001 (a)) on a real loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from bridge.sim.referral import referral_code
from bridge.sim.referral_servlet import SERVLET, create_app

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]
XML = {"Content-Type": "text/xml; charset=utf-8"}
SAMPLES = Path(__file__).resolve().parents[1] / "e2e" / "samples"

# The seed's <referral> sample (§3.1.3.1) with real values where the seed shows labels.
REFERRAL = """<referral>
  <orderid>c8e72a5f9670</orderid><fqyydm>PDY1234567890</fqyydm><fqyymc>测试医疗机构代码</fqyymc>
  <fqksdm>KS00110</fqksdm><fqksmc>测试科室</fqksmc><fqysgh>YS9900</fqysgh><fqysxm>测试医生</fqysxm>
  <token>T12302234</token><brlx>1</brlx><hzxm>测试患者</hzxm><jzkh>A01234567</jzkh>
  <jzklx>0</jzklx><sfzh>3306XXXXXXXXXXXX</sfzh><csrq>20130101</csrq><lxdh>13400001234</lxdh>
  <jtdz>嵊州某某地方</jtdz><cbzd>初步诊断</cbzd><bszy>病史摘要</bszy><jjcd>2</jjcd>
  <mzzycxbz>zy</mzzycxbz>
</referral>"""

QUERY = """<referral-query><yydm>{yydm}</yydm><ysgh>YS9900</ysgh><hzxm>测试患者</hzxm>
  <jzkh>{jzkh}</jzkh><jzklx>0</jzklx><sfzh>3306XXXXXXXXXXXX</sfzh></referral-query>"""


@pytest.fixture
async def servlet_client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_app())


async def post(client: Client, xml: str | bytes, headers: dict[str, str] = XML) -> tuple[str, dict[str, str]]:
    resp = await client.post(SERVLET, data=xml.encode() if isinstance(xml, str) else xml,
                             headers=headers)
    assert resp.status == 200 and resp.content_type == "text/xml"
    root = etree.fromstring(await resp.read())
    return root.tag, {el.tag: el.text or "" for el in root}


async def test_referral_answers_the_seed_parm(servlet_client: Client) -> None:
    root, fields = await post(servlet_client, REFERRAL)
    assert root == "referral"
    code = referral_code("c8e72a5f9670")
    assert fields == {"parm": f"referralCode={code}&type=zy", "result": "true"}


async def test_referral_bad_input_is_result_false_with_message(servlet_client: Client) -> None:
    broken = REFERRAL.replace("<hzxm>测试患者</hzxm>", "").replace("20130101", "2013-01-01") \
        .replace("<fqyydm>PDY1234567890</fqyydm>", f"<fqyydm>{'P' * 23}</fqyydm>")
    root, fields = await post(servlet_client, broken)
    assert root == "referral" and fields["result"] == "false" and "parm" not in fields
    msg = fields["message"]
    assert "hzxm: required" in msg
    assert "csrq: " in msg and "yyyymmdd" in msg
    assert "fqyydm: at most 22 characters, got 23" in msg


async def test_query_true_false_error(servlet_client: Client) -> None:
    _, fields = await post(servlet_client, QUERY.format(yydm="H1", jzkh="A01234567"))
    assert fields == {"result": "false", "message": "无转诊数据", "parm": ""}
    await post(servlet_client, REFERRAL)
    root, fields = await post(servlet_client, QUERY.format(yydm="H1", jzkh="A01234567"))
    assert root == "referral-query" and fields["result"] == "true"
    assert fields["parm"] == f"referralCode={referral_code('c8e72a5f9670')}&type=zy"
    _, fields = await post(servlet_client, QUERY.format(yydm="", jzkh="A01234567"))
    assert fields["result"] == "error" and "yydm: required" in fields["message"]


async def test_apply_seed_sample_with_two_bespeak(servlet_client: Client) -> None:
    # the e2e sample carries the seed's own `</ mzzycxbz >`: a strict servlet refuses it
    raw = (SAMPLES / "referral-apply-two.xml").read_text(encoding="utf-8")
    root, fields = await post(servlet_client, raw)
    assert fields["result"] == "false" and fields["message"].startswith("XML格式错误")
    fixed = raw.replace("</ mzzycxbz >", "</mzzycxbz>").replace("</referral-apply >",
                                                                "</referral-apply>")
    root, fields = await post(servlet_client, fixed)
    assert (root, fields) == ("referral-apply", {"result": "true", "message": ""})
    records = await (await servlet_client.get("/_sim/requests")).json()
    assert records[-1]["root"] == "referral-apply"
    assert [b["ghdh"] for b in records[-1]["fields"]["bespeak"]] == ["GH1", "GH2"]
    # the receiving hospital now finds it
    _, found = await post(servlet_client, QUERY.format(yydm="ZR0001", jzkh="A01234567"))
    assert found["parm"] == f"referralCode={referral_code('push2')}&type=mz"


async def test_apply_outpatient_needs_bespeak_rows(servlet_client: Client) -> None:
    raw = (SAMPLES / "referral-apply-one.xml").read_text(encoding="utf-8") \
        .replace("</ mzzycxbz >", "</mzzycxbz>").replace("</referral-apply >", "</referral-apply>")
    start, end = raw.index("<bespeak>"), raw.index("</bespeak>") + len("</bespeak>")
    _, fields = await post(servlet_client, raw[:start] + raw[end:])
    assert fields["result"] == "false" and fields["message"].startswith("bespeak: 门诊必填")
    _, fields = await post(servlet_client, raw.replace("<ysxm>", "<x>").replace("</ysxm>", "</x>"))
    assert fields["message"] == "bespeak[0].ysxm: required"
    _, fields = await post(servlet_client, raw.replace("<zryydm>ZR0001</zryydm>", ""))
    assert fields["message"] == "zryydm: required"


async def test_unknown_service_and_hostile_xml(servlet_client: Client) -> None:
    root, fields = await post(servlet_client, "<referral-cancel><orderid>1</orderid></referral-cancel>")
    assert root == "referral-cancel" and fields["result"] == "false"
    assert "referral-query" in fields["message"]
    evil = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><referral>&x;</referral>'
    _, fields = await post(servlet_client, evil)
    assert fields["result"] == "false" and "XML" in fields["message"]


async def test_gbk_body_declared_by_content_type(servlet_client: Client) -> None:
    _, fields = await post(servlet_client, REFERRAL.encode("gbk"),
                           headers={"Content-Type": "text/xml; charset=GBK"})
    assert fields["result"] == "true"
    records = await (await servlet_client.get("/_sim/requests")).json()
    assert records[-1]["fields"]["hzxm"] == "测试患者"


async def test_fail_switch(servlet_client: Client) -> None:
    await servlet_client.post("/_sim/fail", json={"status": 500})
    assert (await servlet_client.post(SERVLET, data=REFERRAL.encode(), headers=XML)).status == 500
    assert (await post(servlet_client, REFERRAL))[1]["result"] == "true"
