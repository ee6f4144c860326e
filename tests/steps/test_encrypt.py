"""encrypt / decrypt: AES equal to openssl's, round trips, seed 004's shape, config and
decryption failures that never show key material."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing_tool
from pydantic import ValidationError

from bridge.errors import ConfigError, ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps
from bridge.testing import load_runtime

load_builtin_steps()
# Fake 32- and 16-byte keys (UTF-8), clearly development values.
KEY = "dev-only-test-key-0123456789abcd"
IV = "dev-only-iv-abcd"
SECRETS = {"token": KEY, "iv": IV, "short": "dev-only-31-bytes-key-0123456789"[:31]}
CTX = BuildContext(base_dir=Path("."), secrets=SECRETS)
ECB = {"algorithm": "aes-256-ecb", "key": "token"}
CBC = {"algorithm": "aes-256-cbc", "key": "token", "iv": "iv"}
PLAINTEXTS = ["13800138000", "110101199003077777", "0123456789abcdef", "阮柯娜 门诊", "x"]


def run(step: str, config: Any, body: Any) -> Any:
    return STEPS[step].compile(config, CTX)(Message(body)).body


def openssl(mode: str, plaintext: str, *, iv: bool = False) -> bytes:
    if shutil.which("openssl") is None:
        missing_tool("the openssl binary")
    args = ["openssl", "enc", f"-aes-256-{mode}", "-K", KEY.encode().hex(), "-nosalt"]
    if iv:
        args += ["-iv", IV.encode().hex()]
    done = subprocess.run(args, input=plaintext.encode("utf-8"), capture_output=True,
                          timeout=20, check=True)
    return done.stdout


@pytest.mark.parametrize("plain", PLAINTEXTS)
def test_ecb_hex_equals_openssl(plain: str) -> None:
    got = run("encrypt", {"fields": ["v"], **ECB}, {"v": plain})["v"]
    assert got == openssl("ecb", plain).hex()
    assert got == got.lower()


@pytest.mark.parametrize("plain", PLAINTEXTS)
def test_cbc_base64_equals_openssl(plain: str) -> None:
    got = run("encrypt", {"fields": ["v"], **CBC, "encoding": "base64"}, {"v": plain})["v"]
    assert got == base64.b64encode(openssl("cbc", plain, iv=True)).decode()


def test_upper_hex() -> None:
    got = run("encrypt", {"fields": ["v"], **ECB, "upper": True}, {"v": "13800138000"})["v"]
    assert got == openssl("ecb", "13800138000").hex().upper()


@pytest.mark.parametrize("mode", [ECB, CBC], ids=["ecb", "cbc"])
@pytest.mark.parametrize(("encoding", "upper"), [("hex", False), ("hex", True),
                                                  ("base64", False)])
def test_round_trip(mode: dict[str, str], encoding: str, upper: bool) -> None:
    cfg = {"fields": ["a", "rows.b"], **mode, "encoding": encoding}
    body = {"a": "13800138000", "rows": [{"b": "张护士"}, {"b": ""}, {"b": None}], "c": "kept"}
    sealed = run("encrypt", {**cfg, "upper": upper}, body)
    assert sealed["a"] != "13800138000" and sealed["rows"][0]["b"] != "张护士"
    assert sealed["rows"][1:] == [{"b": ""}, {"b": None}] and sealed["c"] == "kept"
    assert run("decrypt", cfg, sealed) == {"a": "13800138000",
                                           "rows": [{"b": "张护士"}, {"b": ""}, {"b": None}],
                                           "c": "kept"}


def test_seed_004_study_query_shape() -> None:
    """phoneNum and idNum sealed, every other field as sent; the platform can read them back."""
    query = {"phoneNum": "13800138000", "idNum": "110101199003077777", "hisId": "HIS1",
             "patientName": "阮柯娜", "hospitalId": "H0001", "unionId": "U1", "studyType": 0,
             "dataFlag": 1, "usage": 0, "studyDateBegin": "2024-08-01 00:00:00",
             "studyDateEnd": "2024-08-16 23:59:59"}
    cfg = {"fields": ["phoneNum", "idNum"], **ECB, "encoding": "hex"}
    sealed = run("encrypt", cfg, dict(query))
    assert sealed["phoneNum"] == openssl("ecb", "13800138000").hex()
    assert sealed["idNum"] == openssl("ecb", "110101199003077777").hex()
    assert len(sealed["idNum"]) == 64  # 18 bytes -> two AES blocks
    assert {k: v for k, v in sealed.items() if k not in ("phoneNum", "idNum")} == \
        {k: v for k, v in query.items() if k not in ("phoneNum", "idNum")}
    assert run("decrypt", cfg, sealed) == query


def test_numbers_are_encrypted_as_their_text() -> None:
    sealed = run("encrypt", {"fields": ["n"], **ECB}, {"n": 42})
    assert run("decrypt", {"fields": ["n"], **ECB}, sealed) == {"n": "42"}


def test_decrypt_accepts_upper_case_hex() -> None:
    sealed = openssl("ecb", "13800138000").hex().upper()
    assert run("decrypt", {"fields": ["p"], **ECB}, {"p": sealed}) == {"p": "13800138000"}


@pytest.mark.parametrize(("encoding", "value", "why"), [
    ("hex", "13800138000x", "not hex ciphertext"),
    ("hex", "abcd", "cannot be decrypted"),                      # not a whole block
    ("hex", "00" * 16, "cannot be decrypted"),                   # bad padding
    ("base64", "not base64!!", "not base64 ciphertext"),
    ("base64", base64.b64encode(b"\x01" * 16).decode(), "cannot be decrypted"),
    ("hex", 12345, "not hex ciphertext"),
])
def test_decrypt_failures_name_the_field_only(encoding: str, value: Any, why: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        run("decrypt", {"fields": ["patient.idNum"], **ECB, "encoding": encoding},
            {"patient": {"idNum": value}})
    err = info.value
    assert err.status == 422
    assert err.message.startswith("decrypt: patient.idNum: ") and why in err.message
    assert KEY not in err.message and str(value) not in err.message


def test_wrong_key_fails_cleanly() -> None:
    sealed = run("encrypt", {"fields": ["p"], **ECB}, {"p": "13800138000"})
    other = BuildContext(base_dir=Path("."), secrets={"token": "dev-only-other-key-0123456789abc"})
    step = STEPS["decrypt"].compile({"fields": ["p"], **ECB}, other)
    with pytest.raises(ValidationFailed, match="cannot be decrypted with the configured key"):
        step(Message(sealed))


@pytest.mark.parametrize(("config", "needle"), [
    ({**ECB, "key": "nope"}, "secret 'nope' is not defined"),
    ({**ECB, "key": "short"}, "secret 'short' must be exactly 32 bytes"),
    ({**CBC, "iv": "token"}, "iv secret 'token' must be exactly 16 bytes"),
    ({**CBC, "iv": "missing"}, "iv secret 'missing' is not defined"),
])
@pytest.mark.parametrize("step", ["encrypt", "decrypt"])
def test_key_problems_are_config_errors_without_key_material(
        step: str, config: dict[str, str], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        STEPS[step].compile({"fields": ["p"], **config}, CTX)
    assert needle in str(info.value) and str(info.value).startswith(step + ": ")
    for value in SECRETS.values():
        assert value not in str(info.value)


@pytest.mark.parametrize("config", [
    {"fields": ["p"], "algorithm": "aes-256-cbc", "key": "token"},                # cbc needs iv
    {"fields": ["p"], **ECB, "iv": "iv"},                                        # ecb takes none
    {"fields": ["p"], "algorithm": "aes-128-ecb", "key": "token"},
    {"fields": ["p"], **ECB, "encoding": "base32"},
    {"fields": ["p"], **ECB, "encoding": "base64", "upper": True},
    {"fields": [], **ECB},
    {"fields": ["p"], "key": "token"},                                           # algorithm
    {"fields": ["p..q"], **ECB},
])
def test_invalid_config(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        STEPS["encrypt"].model.model_validate(config)


def test_route_with_a_bad_key_fails_to_load_naming_the_secret(tmp_path: Path) -> None:
    """Through the real loader: the key problem is a file:line:col config error, no value."""
    config = tmp_path / "routes.yaml"
    config.write_text(
        "version: 1\n"
        "secrets:\n"
        "  imaging_token: dev-only-too-short\n"
        "targets:\n"
        "  imaging: {url: 'http://127.0.0.1:9'}\n"
        "routes:\n"
        "  - name: study.query\n"
        "    inbound: {path: /study, format: json}\n"
        "    pipeline:\n"
        "      - encrypt: {fields: [phoneNum], algorithm: aes-256-ecb, key: imaging_token}\n"
        "    outbound: {target: imaging, path: /study, format: json}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_runtime(config)
    text = str(info.value)
    assert "routes.yaml:10:" in text and "imaging_token" in text and "32 bytes" in text
    assert "dev-only-too-short" not in text
