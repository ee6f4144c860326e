"""DESIGN §2: an element declared in `lists:` is a list with zero, one or many occurrences."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import SERVLET, post, sample, sim_requests


@pytest.mark.parametrize("name,count", [("referral-apply-one.xml", 1), ("referral-apply-two.xml", 2)])
async def test_bespeak_is_always_a_list(bridge, referral_sim, http, name, count):
    reply = await post(http, bridge.url + SERVLET, sample(name))
    assert reply.status == 200, reply.body
    body = (await sim_requests(http, referral_sim))[0]["json"]
    assert isinstance(body["bookings"], list)
    assert len(body["bookings"]) == count
    assert [b["registration_no"] for b in body["bookings"]] == [f"GH{i + 1}" for i in range(count)]


async def test_zero_bespeak_is_an_empty_list(bridge, referral_sim, http):
    # an inpatient (ZY) push needs no booking; <bespeak> absent must still arrive as []
    text = sample("referral-apply-one.xml").decode("utf-8")
    start, end = text.index("<bespeak>"), text.index("</bespeak>") + len("</bespeak>")
    text = (text[:start] + text[end:]).replace("<mzzycxbz>MZ</ mzzycxbz >", "<mzzycxbz>ZY</mzzycxbz>")
    reply = await post(http, bridge.url + SERVLET, text)
    assert reply.status == 200, reply.body
    body = (await sim_requests(http, referral_sim))[0]["json"]
    assert body["visit_type"] == "zy"
    assert body["bookings"] == []


def workinfo(records: int) -> str:
    recs = "".join(f"<Record><WorkId>W{i}</WorkId><DoctorName>医生{i}</DoctorName></Record>"
                   for i in range(records))
    return (f"<Request><TransactionId>T{records}</TransactionId><HospitalNo>H1</HospitalNo>"
            f"<WorkInfo>{recs}</WorkInfo></Request>")


@pytest.mark.parametrize("records", [0, 1, 2])
async def test_workinfo_record_is_always_a_list(run_bridge, echo, http, records):
    async with run_bridge("echo.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/workinfo", workinfo(records))
    assert reply.status == 200, reply.body
    received = echo.requests[0]["json"]
    assert received["TransactionId"] == f"T{records}"
    assert received["WorkInfo"]["Record"] == [
        {"WorkId": f"W{i}", "DoctorName": f"医生{i}"} for i in range(records)]
    # the echoed reply comes back as XML: the list becomes repeated <Record> elements
    root = reply.xml()
    assert len(root.findall("data/WorkInfo/Record")) == records


async def test_without_lists_one_record_is_an_object(run_bridge, echo, http):
    """Contrast case: proves the list above comes from `lists:`, not from the echo."""
    async with run_bridge("echo.yaml", env={"ECHO_URL": echo.url}) as b:
        one = await post(http, b.url + "/ws/nolists", workinfo(1))
        two = await post(http, b.url + "/ws/nolists", workinfo(2))
    assert one.status == two.status == 200
    assert echo.requests[0]["json"]["WorkInfo"]["Record"] == {"WorkId": "W0", "DoctorName": "医生0"}
    assert isinstance(echo.requests[1]["json"]["WorkInfo"]["Record"], list)
