"""The AliHealth TOP gateway simulator (seed 000) on a real loopback server."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

import orjson
import pytest
from aiohttp.test_utils import TestClient

from bridge.sim.top import API, DEV_APP_KEY, DEV_APP_SECRET, RESPONSE_KEY, create_app

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

# The seed's request example (Java SDK calls), with TOP's snake_case parameter names.
PRACTITIONER = {"gender": "FEMALE", "phone": "186xxxx7777", "outer_practitioner_id": "123",
                "name": "张护士", "certifications_url": "http://www.xxxxx",
                "practice_agency_name": "杭州xxx医院", "practice_agency_province": "杭州",
                "practice_agency_province_code": "330100"}


def business(**over: Any) -> dict[str, str]:
    params = {"uniq_reserve_code": "rew4",
              "medical_practitioner_info": orjson.dumps(PRACTITIONER).decode(),
              "event_occur_time": "2020-11-11 11:11:11", "event": "PRACTITONER_HOME",
              "reserve_number": "1234r"}
    params.update(over)
    return {k: v for k, v in params.items() if v is not None}


def gmt8(skew: dt.timedelta = dt.timedelta(0)) -> str:
    """TOP reads timestamp as Beijing time (GMT+8), whatever zone the caller's host is in."""
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + skew
    return now.strftime("%Y-%m-%d %H:%M:%S")


def signed(params: dict[str, str], *, secret: str = DEV_APP_SECRET, sign_with: str = "md5",
           **system: str) -> dict[str, str]:
    """Written from TOP's documentation, independently of the simulator and the sign step."""
    full = {"method": API, "app_key": DEV_APP_KEY, "format": "json", "v": "2.0",
            "sign_method": sign_with,
            "timestamp": gmt8(), **params, **system}
    base = "".join(f"{k}{full[k]}" for k in sorted(full) if full[k])
    if sign_with == "hmac":
        digest = hmac.new(secret.encode(), base.encode(), hashlib.md5).hexdigest()
    else:
        digest = hashlib.md5((secret + base + secret).encode()).hexdigest()
    return {**full, "sign": digest.upper()}


@pytest.fixture
async def top_client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_app())


async def call(client: Client, params: dict[str, str]) -> Any:
    resp = await client.post("/router/rest", data=urlencode(params).encode(), headers=FORM)
    assert resp.status == 200            # TOP answers 200 for failures too
    return await resp.json()


def error(reply: Any) -> dict[str, Any]:
    assert RESPONSE_KEY not in reply
    err = reply["error_response"]
    assert err["request_id"]
    return err  # type: ignore[no-any-return]


async def test_seed_example_md5_signed_succeeds(top_client: Client) -> None:
    reply = await call(top_client, signed(business()))
    result = reply[RESPONSE_KEY]["result"]
    assert result["success"] is True
    assert result["data"] == {"response_code": "SUCCESS", "msg": "同步成功"}
    assert result["eagle_eye_trace_id"] and reply[RESPONSE_KEY]["request_id"]


async def test_hmac_signature_and_query_string_parameters(top_client: Client) -> None:
    params = signed(business(), sign_with="hmac")
    system = {k: params.pop(k) for k in ("method", "app_key", "timestamp", "v", "sign_method",
                                         "sign", "format")}
    resp = await top_client.post("/router/rest?" + urlencode(system),
                                 data=urlencode(params).encode(), headers=FORM)
    assert (await resp.json())[RESPONSE_KEY]["result"]["success"] is True


async def test_bad_signature_is_code_25(top_client: Client) -> None:
    params = signed(business())
    params["event"] = "PRACTITONER_GO_OUT"          # changed after signing
    err = error(await call(top_client, params))
    assert err["code"] == 25 and err["msg"] == "Invalid Signature" and "sub_code" not in err
    wrong_secret = signed(business(), secret="not-the-secret")
    assert error(await call(top_client, wrong_secret))["code"] == 25
    unsigned = signed(business())
    del unsigned["sign"]
    assert error(await call(top_client, unsigned))["code"] == 24


async def test_missing_business_parameter_is_isv_missing_parameter(top_client: Client) -> None:
    err = error(await call(top_client, signed(business(uniq_reserve_code=None))))
    assert err["code"] == 40 and err["sub_code"] == "isv.missing-parameter"
    assert "uniq_reserve_code" in err["sub_msg"] and "uniq_reserve_code" in err["msg"]
    info = orjson.dumps({k: v for k, v in PRACTITIONER.items()
                         if k != "outer_practitioner_id"}).decode()
    err = error(await call(top_client, signed(business(medical_practitioner_info=info))))
    assert err["sub_code"] == "isv.missing-parameter"
    assert "medical_practitioner_info.outer_practitioner_id" in err["sub_msg"]


async def test_invalid_business_parameters(top_client: Client) -> None:
    err = error(await call(top_client, signed(business(event="AT_HOME"))))
    assert (err["code"], err["msg"], err["sub_code"]) == (50, "Remote service error",
                                                          "isv.invalid-parameter")
    assert "event" in err["sub_msg"] and "PRACTITONER_HOME" in err["sub_msg"]
    err = error(await call(top_client, signed(business(medical_practitioner_info="{not json"))))
    assert err["code"] == 41 and err["sub_code"] == "isv.invalid-parameter"
    info = orjson.dumps({**PRACTITIONER, "gender": "F"}).decode()
    err = error(await call(top_client, signed(business(medical_practitioner_info=info))))
    assert "medical_practitioner_info.gender" in err["sub_msg"]
    err = error(await call(top_client, signed(business(event_occur_time="2020/11/11"))))
    assert err["code"] == 41 and "event_occur_time" in err["sub_msg"]


@pytest.mark.parametrize(("change", "code"), [
    ({"app_key": ""}, 28), ({"app_key": "someone-else"}, 29), ({"method": ""}, 21),
    ({"method": "taobao.time.get"}, 22), ({"format": "yaml"}, 23), ({"v": ""}, 32),
    ({"v": "1.0"}, 34), ({"timestamp": ""}, 30), ({"timestamp": "1605064271"}, 31),
    ({"timestamp": "2020-11-11 11:11:11"}, 31), ({"sign_method": "sha1"}, 41),
])
async def test_gateway_parameters(top_client: Client, change: dict[str, str], code: int) -> None:
    params = signed(business(), **change)
    assert error(await call(top_client, params))["code"] == code


@pytest.mark.parametrize(("timestamp", "accepted"), [
    (lambda: gmt8(dt.timedelta(minutes=9)), True),
    (lambda: gmt8(dt.timedelta(minutes=-9)), True),
    (lambda: gmt8(dt.timedelta(minutes=11)), False),
    (lambda: gmt8(dt.timedelta(minutes=-11)), False),
    # the same instant written in UTC, as a host without TZ would: 8 hours off for TOP
    (lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), False),
])
async def test_timestamp_is_read_as_gmt8_within_ten_minutes(top_client: Client, timestamp, accepted) -> None:  # type: ignore[no-untyped-def]
    reply = await call(top_client, signed(business(), timestamp=timestamp()))
    if accepted:
        assert RESPONSE_KEY in reply, reply
    else:
        assert error(reply)["code"] == 31, reply


async def test_business_failure_is_success_false(top_client: Client) -> None:
    reply = await call(top_client, signed(business(event="CHANGE_PRACTITONER",
                                                   reserve_number="never-assigned")))
    result = reply[RESPONSE_KEY]["result"]
    assert result["success"] is False and result["err_code"] == "PRACTITIONER_NOT_ASSIGNED"
    await call(top_client, signed(business(event="ASSIGNED_PRACTITONER", reserve_number="R9")))
    reply = await call(top_client, signed(business(event="CHANGE_PRACTITONER", reserve_number="R9")))
    assert reply[RESPONSE_KEY]["result"]["success"] is True


async def test_xml_format(top_client: Client) -> None:
    resp = await top_client.post("/router/rest", data=urlencode(signed(business(), format="xml")),
                                 headers=FORM)
    text = await resp.text()
    assert resp.content_type == "text/xml"
    assert text.startswith("<?xml") and f"<{RESPONSE_KEY}><result>" in text
    assert "<success>true</success>" in text
    resp = await top_client.post("/router/rest", data=urlencode({"format": "xml"}), headers=FORM)
    assert "<error_response><code>28</code>" in await resp.text()


async def test_requests_recorded_with_form(top_client: Client) -> None:
    params = signed(business())
    await call(top_client, params)
    [record] = await (await top_client.get("/_sim/requests")).json()
    assert record["form"] == params and record["path"] == "/router/rest"
    await top_client.post("/_sim/fail", json={"status": 503})
    resp = await top_client.post("/router/rest", data=urlencode(params), headers=FORM)
    assert resp.status == 503
