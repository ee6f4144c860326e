"""Seed 004 end to end: plain JSON in -> encrypted camelCase JSON -> the imaging cloud simulator.

Real servers on loopback: the bridge running the shipped routes.yaml and the imaging simulator. The test decrypts what the simulator received with
pycryptodome itself, so bridge's `encrypt` step is judged by an independent implementation.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import yaml
from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from bridge.routetest import main as bridge_test
from bridge.sim import close_sims, start_sims
from bridge.sim.imaging import studies_of
from bridge.testing import RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dev-only-imaging-token-notsecret"     # the fragment's and the simulator's dev default
PHONE, ID = "13800138000", "110101199003077777"
WINDOW = {"study_date_begin": "2024-01-01 00:00:00", "study_date_end": "2024-12-31 23:59:59"}


def unseal(hex_text: str, key: str = TOKEN) -> str:
    return unpad(AES.new(key.encode(), AES.MODE_ECB).decrypt(bytes.fromhex(hex_text)), 16).decode()


@pytest.fixture
def imaging_config() -> Path:
    """The shipped routes.yaml: this integration's routes live there."""
    return ROOT / "routes.yaml"


@pytest.fixture
async def imaging_sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.delenv("IMAGING_TOKEN", raising=False)
    sims = await start_sims(["imaging"], ports={"imaging": 0})
    try:
        yield sims[0]
    finally:
        await close_sims(sims)


@pytest.fixture
async def imaging_bridge(imaging_config: Path, imaging_sim: Any) -> AsyncIterator[RunningBridge]:
    async with running_bridge(imaging_config, env={"IMAGING_URL": imaging_sim.url}) as b:
        yield b


@pytest.fixture
async def imaging_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(http: aiohttp.ClientSession, bridge: RunningBridge, path: str,
               body: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(bridge.url + path, json=body) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def last_received(http: aiohttp.ClientSession, sim: Any) -> dict[str, Any]:
    async with http.get(sim.url + "/_sim/requests") as resp:
        records = await resp.json()
    assert records, "the imaging cloud received nothing"
    return records[-1]["json"]


async def test_studies_snake_case_in_encrypted_camel_out(imaging_bridge: RunningBridge,
                                                        imaging_sim: Any,
                                                        imaging_http: aiohttp.ClientSession) -> None:
    body = {"phone_num": PHONE, "id_num": ID, "his_id": "HIS1", "study_type": "radiology",
            "data_flag": "this_union", **WINDOW, "internal_note": "not for the cloud"}
    status, reply = await call(imaging_http, imaging_bridge, "/imaging/studies", body)
    assert status == 200, reply

    sent = await last_received(imaging_http, imaging_sim)
    assert unseal(sent["phoneNum"]) == PHONE and unseal(sent["idNum"]) == ID
    assert sent["phoneNum"] == sent["phoneNum"].lower() and len(sent["idNum"]) == 64
    assert {k: sent[k] for k in ("hisId", "studyType", "dataFlag", "usage", "hospitalId",
                                 "unionId", "studyDateBegin")} == {
        "hisId": "HIS1", "studyType": 0, "dataFlag": 3, "usage": 0, "hospitalId": "H0001",
        "unionId": "U01", "studyDateBegin": "2024-01-01 00:00:00"}
    assert "internalNote" not in sent and "internal_note" not in sent

    expected = [s for s in studies_of(ID) if s["studyType"] == 0 and s["unionId"] == "U01"]
    assert [s["report_id"] for s in reply["studies"]] == [s["reportId"] for s in expected]
    study = reply["studies"][0]
    assert study["study_type"] == "radiology"                  # the seed's code, named
    assert study["h5_detail_url"] == expected[0]["h5DetailUrl"]
    assert set(study) >= {"his_id", "study_date", "study_id", "body_part", "apply_doctor_id"}


async def test_studies_camel_case_in_with_codes(imaging_bridge: RunningBridge, imaging_sim: Any,
                                                imaging_http: aiohttp.ClientSession) -> None:
    body = {"phoneNum": PHONE, "idNum": ID, "studyType": "5", "dataFlag": 0, "usage": "2",
            "studyDateBegin": WINDOW["study_date_begin"], "studyDateEnd": WINDOW["study_date_end"]}
    status, reply = await call(imaging_http, imaging_bridge, "/imaging/studies", body)
    assert status == 200, reply
    assert [s["study_type"] for s in reply["studies"]] == ["ultrasound"]
    sent = await last_received(imaging_http, imaging_sim)
    assert (sent["studyType"], sent["usage"]) == (5, 2)        # JSON ints, as the seed types them
    assert unseal(sent["idNum"]) == ID


async def test_report_and_consultation_pages(imaging_bridge: RunningBridge, imaging_sim: Any,
                                             imaging_http: aiohttp.ClientSession) -> None:
    study = studies_of(ID)[2]
    status, reply = await call(imaging_http, imaging_bridge, "/imaging/report",
                               {"report_id": study["reportId"], "phone_num": PHONE, "id_num": ID})
    assert status == 200
    assert reply == {"h5_url": study["h5Url"], "h5_detail_url": study["h5DetailUrl"],
                     "study_id": study["studyId"]}
    sent = await last_received(imaging_http, imaging_sim)
    assert unseal(sent["phoneNum"]) == PHONE and sent["reportId"] == study["reportId"]

    status, reply = await call(imaging_http, imaging_bridge, "/imaging/consultations",
                               {"hisId": "HIS1", "phoneNum": PHONE, "idNum": ID})
    assert status == 200 and reply["h5_url"].startswith("https://imaging.example/h5/consult/H0001/")


async def test_cloud_business_errors_reach_the_caller(imaging_bridge: RunningBridge,
                                                      imaging_http: aiohttp.ClientSession) -> None:
    status, reply = await call(imaging_http, imaging_bridge, "/imaging/studies",
                               {"phone_num": PHONE, "id_num": ID, "study_type": 9, **WINDOW})
    assert status == 502
    assert reply["error"]["code"] == "upstream_rejected"
    assert reply["error"]["message"] == "studyType: must be an integer 0..5, got 9"

    status, reply = await call(imaging_http, imaging_bridge, "/imaging/report",
                               {"report_id": "RPT0", "phone_num": PHONE, "id_num": ID})
    assert status == 502 and "RPT0 not found" in reply["error"]["message"]


async def test_invalid_input_never_reaches_the_cloud(imaging_bridge: RunningBridge, imaging_sim: Any,
                                                     imaging_http: aiohttp.ClientSession) -> None:
    for body, needle in [
        ({"id_num": ID, "study_type": 0, **WINDOW}, "phone_num"),
        ({"phone_num": PHONE, "id_num": ID, "study_type": "xray", **WINDOW}, "study_type"),
        ({"phone_num": PHONE, "id_num": ID, "study_type": 0, **WINDOW,
          "study_date_end": "2024-12-31"}, "study_date_end"),
    ]:
        status, reply = await call(imaging_http, imaging_bridge, "/imaging/studies", body)
        assert status == 422, reply
        assert needle in reply["error"]["message"]
        assert ID not in reply["error"]["message"]
    async with imaging_http.get(imaging_sim.url + "/_sim/requests") as resp:
        assert await resp.json() == []


async def test_a_wrong_token_is_refused_by_the_cloud(imaging_config: Path, imaging_sim: Any,
                                                     imaging_http: aiohttp.ClientSession) -> None:
    env = {"IMAGING_URL": imaging_sim.url, "IMAGING_TOKEN": "not-the-clouds-token-32-chars-00"}
    async with running_bridge(imaging_config, env=env) as bridge:
        status, reply = await call(imaging_http, bridge, "/imaging/studies",
                                   {"phone_num": PHONE, "id_num": ID, "study_type": 0, **WINDOW})
    assert status == 502
    assert "decryption failed (wrong key?)" in reply["error"]["message"]
    assert "not-the-clouds-token" not in str(reply)


async def test_cloud_down(imaging_config: Path, imaging_sim: Any,
                          imaging_http: aiohttp.ClientSession) -> None:
    await imaging_sim.close()
    async with running_bridge(imaging_config, env={"IMAGING_URL": imaging_sim.url}) as bridge:
        status, reply = await call(imaging_http, bridge, "/imaging/report",
                                   {"report_id": "R", "phone_num": PHONE, "id_num": ID})
    assert status == 502 and "cannot reach target imaging_cloud" in reply["error"]["message"]


def test_route_cases_pass(monkeypatch: pytest.MonkeyPatch, imaging_config: Path) -> None:
    """`bridge test` on tests/routes/imaging-*.yaml: every imaging route has cases, and they pass."""
    monkeypatch.delenv("IMAGING_TOKEN", raising=False)
    files = sorted((ROOT / "tests" / "routes").glob("imaging-*.yaml"))
    out, err = io.StringIO(), io.StringIO()
    code = bridge_test(imaging_config, [str(f) for f in files], out, err)
    assert code == 0, out.getvalue() + err.getvalue()
    tested = {line.split(":", 1)[0][5:] for line in out.getvalue().splitlines() if line.startswith("PASS ")}
    config = yaml.safe_load(imaging_config.read_text(encoding="utf-8"))
    mine = {r["name"] for r in config["routes"] if r["name"].startswith("imaging.")}
    assert mine and tested == mine
