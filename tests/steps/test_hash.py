"""hash: digests equal hashlib's over the rendered template; secrets checked at load."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
SECRETS = {"pay_key": "dev-only-pay-key"}
CTX = BuildContext(base_dir=Path("."), secrets=SECRETS)


def run(config: Any, body: Any, meta: dict[str, Any] | None = None) -> Any:
    msg = Message(body, secrets=SECRETS, meta=meta or {})
    return STEPS["hash"].compile(config, CTX)(msg).body


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_digest_equals_hashlib(algorithm: str) -> None:
    body = {"his_order_no": "HIS1", "total": 25.5, "pay_mode": "wePay", "name": "阮柯娜"}
    out = run({"field": "sign", "algorithm": algorithm,
               "of": "{his_order_no}{total}{pay_mode}{name}{secrets.pay_key}"}, body)
    text = "HIS125.5wePay阮柯娜dev-only-pay-key"
    assert out["sign"] == hashlib.new(algorithm, text.encode("utf-8")).hexdigest()
    assert out["sign"] == out["sign"].lower()
    assert out["his_order_no"] == "HIS1"  # the rest untouched


def test_upper_and_literal_separators_and_meta() -> None:
    out = run({"field": "h", "algorithm": "md5", "of": "a={a}&t={meta.request_id}", "upper": True},
              {"a": 1}, meta={"request_id": "r-1"})
    assert out["h"] == hashlib.md5(b"a=1&t=r-1").hexdigest().upper()


def test_missing_values_render_empty_and_nested_field_is_created() -> None:
    out = run({"field": "head.sign", "algorithm": "sha256", "of": "{nope}|{a}"}, {"a": True})
    assert out["head"]["sign"] == hashlib.sha256(b"|true").hexdigest()


def test_empty_body_becomes_a_mapping() -> None:
    out = run({"field": "sign", "algorithm": "md5", "of": "x"}, None)
    assert out == {"sign": hashlib.md5(b"x").hexdigest()}


def test_undefined_secret_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="hash: secret 'other' is not defined"):
        STEPS["hash"].compile({"field": "s", "algorithm": "md5", "of": "{a}{secrets.other}"}, CTX)


def test_literal_braces_are_not_secret_references() -> None:
    out = run({"field": "s", "algorithm": "md5", "of": "{{secrets.other}}"}, {})
    assert out["s"] == hashlib.md5(b"{secrets.other}").hexdigest()


@pytest.mark.parametrize("config", [
    {"field": "s", "algorithm": "sha1", "of": "x"},
    {"field": "s", "of": "x"},
    {"algorithm": "md5", "of": "x"},
    {"field": "a..b", "algorithm": "md5", "of": "x"},
    {"field": "s", "algorithm": "md5", "of": "x", "key": "k"},
])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["hash"].model.model_validate(config)
