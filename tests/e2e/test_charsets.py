"""GBK / GB2312 / GB18030 callers get their own charset back, declared the same way in the XML
declaration and in Content-Type, and Chinese text survives both directions."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import SERVLET, children, post, sample, sim_requests

WORKINFO = """<?xml version="1.0" encoding="{enc}"?>
<Request>
  <TransactionId>T-{enc}</TransactionId>
  <HospitalNo>H001</HospitalNo>
  <WorkInfo>
    <Record><WorkId>W1</WorkId><DoctorName>{name}</DoctorName><DepartmentName>心血管内科</DepartmentName></Record>
  </WorkInfo>
</Request>
"""


def gbk_referral(declared: str | None) -> bytes:
    text = sample("referral.xml").decode("utf-8")
    text = text.split("?>", 1)[1].lstrip()                     # drop the UTF-8 declaration
    if declared:
        text = f'<?xml version="1.0" encoding="{declared}"?>\n' + text
    return text.encode("gbk")


def assert_declared(reply, label: str) -> None:
    assert reply.declared_encoding() == label, reply.body[:80]
    assert reply.charset == label, reply.content_type
    assert reply.declared_encoding().lower() == reply.charset.lower()


async def test_gbk_declared_in_xml_declaration(bridge, referral_sim, http):
    body = gbk_referral("GBK")
    assert "测试患者".encode("gbk") in body
    reply = await post(http, bridge.url + SERVLET, body, {"Content-Type": "application/xml"})
    assert reply.status == 200, reply.body
    assert_declared(reply, "GBK")
    assert children(reply.xml())["result"] == "true"
    seen = (await sim_requests(http, referral_sim))[0]["json"]
    assert seen["patient_name"] == "测试患者"
    assert seen["address"] == "嵊州某某地方"


async def test_gbk_declared_only_in_content_type(bridge, referral_sim, http):
    body = gbk_referral(None)
    reply = await post(http, bridge.url + SERVLET, body, {"Content-Type": "text/xml; charset=GBK"})
    assert reply.status == 200, reply.body
    assert_declared(reply, "GBK")
    seen = (await sim_requests(http, referral_sim))[0]["json"]
    assert seen["from_doctor_name"] == "测试医生"


async def test_content_type_charset_wins_over_declaration_and_reply_agrees(bridge, referral_sim, http):
    # a legacy HIS that writes GBK bytes under a stale UTF-8 declaration but a correct header
    body = gbk_referral("UTF-8")
    reply = await post(http, bridge.url + SERVLET, body, {"Content-Type": "text/xml; charset=gbk"})
    assert reply.status == 200, reply.body
    assert reply.declared_encoding().upper() == reply.charset.upper() == "GBK"
    seen = (await sim_requests(http, referral_sim))[0]["json"]
    assert seen["patient_name"] == "测试患者"


async def test_gbk_error_reply_is_gbk_too(bridge, referral_sim, http):
    body = gbk_referral("GBK").replace(b"<orderid>c8e72a5f9670</orderid>", b"")
    reply = await post(http, bridge.url + SERVLET, body, {"Content-Type": "application/xml"})
    assert reply.status == 200, reply.body   # seed 001 (a): failure is result false, HTTP 200 (was 422)
    assert_declared(reply, "GBK")
    out = children(reply.xml())
    assert out["result"] == "false" and "orderid" in out["message"]   # the caller's name


@pytest.mark.parametrize("label,name", [
    ("GBK", "张医生"),
    ("GB18030", "吉𠮷医生"),          # U+20BB7 exists in GB18030 only (4-byte sequence)
    ("GB2312", "陶喆医生"),           # 喆 is GBK, not GB2312: legacy "GB2312" means GBK
])
async def test_chinese_round_trips_in_the_callers_charset(run_bridge, echo, http, label, name):
    codec = "gb18030" if label != "GBK" else "gbk"
    body = WORKINFO.format(enc=label, name=name).encode(codec)
    async with run_bridge("echo.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/workinfo", body, {"Content-Type": "application/xml"})
    assert reply.status == 200, reply.body
    assert_declared(reply, label)
    # the target got real Unicode
    record = echo.requests[0]["json"]["WorkInfo"]["Record"][0]
    assert record["DoctorName"] == name
    assert record["DepartmentName"] == "心血管内科"
    # and the reply carries it back in the caller's charset, strictly: what the label cannot
    # hold (喆 is not in GB2312) is a character reference, never a byte the caller's decoder rejects
    strict = {"GBK": "gbk", "GB18030": "gb18030", "GB2312": "gb2312"}[label]
    assert name.encode(strict, errors="xmlcharrefreplace") in reply.body
    reply.body.decode(strict)  # readable by a strict decoder of the declared charset
    echoed = reply.xml().find("data/WorkInfo/Record")
    assert children(echoed)["DoctorName"] == name


async def test_gb2312_in_content_type_label_is_echoed(run_bridge, echo, http):
    body = WORKINFO.format(enc="GB2312", name="王医生").split("?>", 1)[1].encode("gbk")
    async with run_bridge("echo.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/workinfo", body,
                           {"Content-Type": "text/xml; charset=GB2312"})
    assert reply.status == 200, reply.body
    assert_declared(reply, "GB2312")
    assert reply.body.decode("gb18030").count("王医生") == 1


async def test_bad_gbk_bytes_are_a_400_not_a_crash(bridge, referral_sim, http):
    body = gbk_referral("GBK").replace("测试患者".encode("gbk"), b"\x81\x20\xff")
    reply = await post(http, bridge.url + SERVLET, body, {"Content-Type": "application/xml"})
    assert reply.status == 400, reply.body
    assert (await sim_requests(http, referral_sim)) == []


async def test_route_charset_applies_when_nothing_declares_one(run_bridge, echo, http):
    body = WORKINFO.format(enc="GBK", name="李医生").split("?>", 1)[1].encode("gbk")
    async with run_bridge("echo.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/gbk", body, {"Content-Type": "application/xml"})
        # a declaration still beats the route's charset
        utf8 = WORKINFO.format(enc="UTF-8", name="李医生").encode("utf-8")
        reply2 = await post(http, b.url + "/ws/gbk", utf8, {"Content-Type": "application/xml"})
    assert reply.status == 200, reply.body
    assert echo.requests[0]["json"]["WorkInfo"]["Record"][0]["DoctorName"] == "李医生"
    assert reply.charset.upper() == reply.declared_encoding().upper() == "GBK"
    assert reply2.status == 200, reply2.body
    assert echo.requests[1]["json"]["WorkInfo"]["Record"][0]["DoctorName"] == "李医生"
    assert reply2.charset.upper() == "UTF-8"
