"""The imaging cloud simulator (seed 004) on a real loopback server, spoken to directly.

Encryption is done here with pycryptodome, independently of bridge's `encrypt` step.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from bridge.sim.imaging import DEV_TOKEN, create_app, studies_of

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]
PHONE, ID = "13800138000", "110101199003077777"


def seal(text: str, key: str = DEV_TOKEN) -> str:
    return AES.new(key.encode(), AES.MODE_ECB).encrypt(pad(text.encode(), 16)).hex()


def query(**change: Any) -> dict[str, Any]:
    body = {"phoneNum": seal(PHONE), "idNum": seal(ID), "hospitalId": "H0001", "unionId": "U01",
            "studyType": 0, "dataFlag": 0, "usage": 0,
            "studyDateBegin": "2024-01-01 00:00:00", "studyDateEnd": "2024-12-31 23:59:59"}
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
async def imaging_client(aiohttp_client: Factory, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.delenv("IMAGING_TOKEN", raising=False)
    return await aiohttp_client(create_app())


async def post(client: Client, path: str, body: Any) -> dict[str, Any]:
    resp = await client.post(path, json=body)
    assert resp.status == 200
    return await resp.json()


@pytest.mark.parametrize("flag,hospitals", [
    (0, ["H0001", "H0900"]), (1, ["H0001"]), (2, ["H0900"]), (3, ["H0001"]), (4, ["H0900"])])
async def test_study_list_filters_by_type_and_data_flag(imaging_client: Client, flag: int,
                                                        hospitals: list[str]) -> None:
    reply = await post(imaging_client, "/openapi/patient/studies", query(dataFlag=flag))
    assert reply["code"] == 0 and reply["message"] == "success"
    by_report = {s["reportId"]: s for s in studies_of(ID)}
    got = [by_report[s["reportId"]]["hospitalId"] for s in reply["data"]]
    assert got == hospitals
    assert all(s["studyType"] == 0 for s in reply["data"])
    assert set(reply["data"][0]) >= {"hisId", "reportId", "studyType", "studyDate", "studyId",
                                     "bodyPart", "studyName", "h5Url", "h5DetailUrl", "uniPath"}


async def test_study_list_date_window(imaging_client: Client) -> None:
    reply = await post(imaging_client, "/openapi/patient/studies",
                       query(studyType=5, studyDateBegin="2024-06-01 00:00:00"))
    assert reply == {"code": 0, "message": "success", "data": []}


@pytest.mark.parametrize("change,needle", [
    ({"phoneNum": PHONE}, "phoneNum: not AES-256-ECB hex"),
    ({"idNum": seal(ID)[:-2]}, "idNum: not AES-256-ECB hex"),
    ({"idNum": seal(ID, "another-32-character-key-0000000")}, "idNum: decryption failed (wrong key?)"),
    ({"phoneNum": seal("not a phone")}, "phoneNum: decryption failed"),
])
async def test_wrong_encryption_is_refused(imaging_client: Client, change: dict[str, Any],
                                           needle: str) -> None:
    reply = await post(imaging_client, "/openapi/patient/studies", query(**change))
    assert reply["code"] == 40002 and reply["data"] is None
    assert needle in reply["message"]
    assert PHONE not in reply["message"] and ID not in reply["message"]   # never echoes PII


@pytest.mark.parametrize("change,needle", [
    ({"studyType": 6}, "studyType: must be an integer 0..5, got 6"),
    ({"dataFlag": "1"}, "dataFlag: must be an integer 0..4, got '1'"),
    ({"usage": None}, "usage: required"),
    ({"hospitalId": ""}, "hospitalId: required"),
    ({"studyDateEnd": "2024-12-31"}, "studyDateEnd: expected yyyy-MM-dd HH:mm:ss"),
])
async def test_enums_and_required_fields(imaging_client: Client, change: dict[str, Any],
                                         needle: str) -> None:
    reply = await post(imaging_client, "/openapi/patient/studies", query(**change))
    assert reply["code"] == 40001 and needle in reply["message"]


async def test_report_url_and_consultation_page(imaging_client: Client) -> None:
    report = studies_of(ID)[1]["reportId"]
    body = {"reportId": report, "phoneNum": seal(PHONE), "idNum": seal(ID), "hospitalId": "H0001"}
    reply = await post(imaging_client, "/openapi/study/url", body)
    assert reply["code"] == 0
    assert reply["data"] == {"h5Url": f"https://imaging.example/h5/report/{report}",
                             "h5DetailUrl": f"https://imaging.example/h5/image/{report}",
                             "studyId": studies_of(ID)[1]["studyId"]}
    missing = await post(imaging_client, "/openapi/study/url", {**body, "reportId": "RPT0"})
    assert missing["code"] == 40004
    consult = await post(imaging_client, "/openapi/patient/consult",
                         {"hisId": "HIS1", "phoneNum": seal(PHONE), "idNum": seal(ID),
                          "hospitalId": "H0001", "unionId": "U01"})
    assert consult["code"] == 0 and consult["data"]["h5Url"].startswith("https://imaging.example/h5/consult/H0001/")


async def test_the_token_comes_from_the_environment(aiohttp_client: Factory,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    other = "prod-like-token-for-this-test-32"
    monkeypatch.setenv("IMAGING_TOKEN", other)
    client = await aiohttp_client(create_app())
    assert (await post(client, "/openapi/patient/studies", query()))["code"] == 40002
    sealed = query(phoneNum=seal(PHONE, other), idNum=seal(ID, other))
    assert (await post(client, "/openapi/patient/studies", sealed))["code"] == 0
