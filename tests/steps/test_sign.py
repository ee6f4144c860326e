"""sign: the TOP gateway signature equal to the published algorithm computed here independently
(md5 and hmac, nested objects as JSON strings, Chinese values), checked again on what a real
form target receives; HMAC-SHA256 over a template."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from bridge.errors import StepFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps
from bridge.testing import running_bridge

load_builtin_steps()
SECRET = "dev-only-top-secret-for-tests"
CTX = BuildContext(base_dir=Path("."), secrets={"top": SECRET})

# Seed 000's request (alibaba.alihealth.examination.todoor.serviceinfo.sync) with gateway fields.
REQUEST: dict[str, Any] = {
    "method": "alibaba.alihealth.examination.todoor.serviceinfo.sync",
    "app_key": "12345678", "timestamp": "2024-08-16 18:23:01", "format": "json", "v": "2.0",
    "sign_method": "md5", "uniq_reserve_code": "rew4",
    "medical_practitioner_info": {
        "gender": "FEMALE", "phone": "186xxxx7777", "outer_practitioner_id": "123",
        "name": "张护士", "certifications_url": "http://www.xxxxx",
        "practice_agency_name": "杭州xxx医院", "practice_agency_province": "杭州",
        "practice_agency_province_code": "330100"},
    "event_occur_time": "2020-11-11 11:11:11", "event": "PRACTITONER_HOME",
    "reserve_number": "1234r",
}


def published_top_sign(params: dict[str, str], secret: str, method: str) -> str:
    """The TOP algorithm as the open platform documents it, over the parameters as sent
    (strings): drop `sign` and empty values, sort names in ASCII order, concatenate name+value;
    md5: wrap in the secret and MD5; hmac: HMAC-MD5 keyed by the secret; upper-case hex."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    if method == "hmac":
        return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), "md5").hexdigest().upper()
    return hashlib.md5(f"{secret}{text}{secret}".encode("utf-8")).hexdigest().upper()


def as_sent(body: dict[str, Any]) -> dict[str, str]:
    """Nested objects go over the wire as compact JSON strings with Chinese kept."""
    return {k: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            if isinstance(v, (dict, list)) else v for k, v in body.items()}


def run(config: Any, body: Any) -> Any:
    return STEPS["sign"].compile(config, CTX)(Message(body)).body


@pytest.mark.parametrize("method", ["md5", "hmac"])
def test_top_signature_equals_the_published_algorithm(method: str) -> None:
    body = {**REQUEST, "sign_method": method}
    out = run({"scheme": "top", "secret": "top", "method": method}, dict(body))
    assert out["sign"] == published_top_sign(as_sent(body), SECRET, method)
    assert out["sign"] == out["sign"].upper() and len(out["sign"]) == 32
    assert {k: v for k, v in out.items() if k != "sign"} == body


def test_md5_is_the_default_method() -> None:
    out = run({"scheme": "top", "secret": "top"}, dict(REQUEST))
    assert out["sign"] == published_top_sign(as_sent(REQUEST), SECRET, "md5")


def test_an_existing_sign_is_not_signed_and_is_replaced() -> None:
    out = run({"scheme": "top", "secret": "top"}, {**REQUEST, "sign": "STALE"})
    assert out["sign"] == published_top_sign(as_sent(REQUEST), SECRET, "md5")


def test_known_vector() -> None:
    """A hand-checkable vector: secret 'test', params b=2, a=1 -> MD5('testa1b2test')."""
    ctx = BuildContext(base_dir=Path("."), secrets={"s": "test"})
    out = STEPS["sign"].compile({"scheme": "top", "secret": "s"}, ctx)(Message({"b": "2", "a": "1"}))
    assert out.body["sign"] == hashlib.md5(b"testa1b2test").hexdigest().upper()


def test_scalars_are_signed_as_the_form_sends_them() -> None:
    body = {"n": 3, "f": 1.5, "t": True, "none": None, "list": [1, "二"]}
    out = run({"scheme": "top", "secret": "top"}, dict(body))
    sent = {"n": "3", "f": "1.5", "t": "true", "none": "", "list": '[1,"二"]'}
    assert out["sign"] == published_top_sign(sent, SECRET, "md5")


def test_hmac_sha256_over_a_template() -> None:
    ctx = BuildContext(base_dir=Path("."), secrets={"api": SECRET, "app": "A-1"})
    cfg = {"scheme": "hmac-sha256", "secret": "api", "field": "signature",
           "of": "{secrets.app}{timestamp}{name}", "upper": True}
    out = STEPS["sign"].compile(cfg, ctx)(Message({"timestamp": "1723803781", "name": "张"},
                                                  secrets=ctx.secrets)).body
    want = hmac.new(SECRET.encode(), "A-11723803781张".encode(), hashlib.sha256).hexdigest()
    assert out["signature"] == want.upper()


def test_a_body_that_is_not_a_mapping_cannot_be_signed() -> None:
    with pytest.raises(StepFailed):
        run({"scheme": "top", "secret": "top"}, ["a"])


def test_undefined_secret_is_a_config_error_naming_it() -> None:
    with pytest.raises(ValueError, match="sign: secret 'nope' is not defined"):
        STEPS["sign"].compile({"scheme": "top", "secret": "nope"}, CTX)
    with pytest.raises(ValueError, match="secret 'other' is not defined"):
        STEPS["sign"].compile({"scheme": "hmac-sha256", "secret": "top",
                               "of": "{secrets.other}"}, CTX)


@pytest.mark.parametrize("config", [
    {"scheme": "top", "secret": "top", "method": "sha1"},
    {"scheme": "top", "secret": "top", "of": "{a}"},
    {"scheme": "top", "secret": "top", "upper": False},
    {"scheme": "hmac-sha256", "secret": "top"},
    {"scheme": "hmac-sha256", "secret": "top", "of": "{a}", "method": "md5"},
    {"scheme": "rsa", "secret": "top"},
    {"scheme": "top"},
])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["sign"].model.model_validate(config)


# --- what a TOP gateway receives ----------------------------------------------------------

@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A loopback form target that records the parameters it receives, as a gateway would."""
    received: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(dict(parse_qsl((await request.read()).decode("utf-8"),
                                       keep_blank_values=True)))
        return web.json_response({"result": {"success": True}})

    app = web.Application()
    app.router.add_post("/router/rest", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", received
    finally:
        await runner.cleanup()


CONFIG = """\
version: 1
secrets:
  top_secret: dev-only-top-secret-for-tests
targets:
  gateway: {{url: "{url}", timeout: 2s}}
routes:
  - name: todoor.sync
    inbound: {{path: /todoor, format: json}}
    pipeline:
      - set:
          method: alibaba.alihealth.examination.todoor.serviceinfo.sync
          app_key: "12345678"
          timestamp: "2024-08-16 18:23:01"
          format: json
          v: "2.0"
          sign_method: {method}
      - sign: {{scheme: top, secret: top_secret, method: {method}}}
    outbound: {{target: gateway, path: /router/rest, format: form}}
"""


@pytest.mark.parametrize("method", ["md5", "hmac"])
async def test_the_gateway_can_verify_what_it_receives(
        gateway: tuple[str, list[dict[str, str]]], tmp_path: Path, method: str) -> None:
    url, received = gateway
    config = tmp_path / "routes.yaml"
    config.write_text(CONFIG.format(url=url, method=method), encoding="utf-8")
    caller = {k: v for k, v in REQUEST.items()
              if k in ("uniq_reserve_code", "medical_practitioner_info", "event_occur_time",
                       "event", "reserve_number")}
    async with running_bridge(config) as bridge, aiohttp.ClientSession() as http:
        async with http.post(bridge.url + "/todoor", json=caller) as r:
            assert r.status == 200, await r.text()
    assert len(received) == 1
    params = received[0]
    assert params["sign_method"] == method and params["app_key"] == "12345678"
    assert json.loads(params["medical_practitioner_info"])["name"] == "张护士"
    assert params["sign"] == published_top_sign(params, SECRET, method)
