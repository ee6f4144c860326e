"""PII masking (the per-request log line itself is tested end to end in tests/e2e/test_logging.py)."""

from __future__ import annotations

import orjson

from bridge.observability.logging import PiiMasker, mask

ID_NO = "330683199001011234"
PHONE = "13400001234"
NAME = "张三丰"


def test_mask_keeps_ends_only() -> None:
    assert mask(ID_NO) == "3" + "*" * 16 + "4"
    assert mask("张三") == "**"
    assert mask("") == ""


def test_masker_walks_nested_events_and_extra_keys() -> None:
    masker = PiiMasker(extra=["secretField"])
    event = {"event": "x", "body": {"sfzh": ID_NO, "items": [{"phoneNum": PHONE}], "ok": "keep"},
             "secretField": "abcdef"}
    out = masker(None, "info", event)
    text = orjson.dumps(out).decode()
    assert ID_NO not in text and PHONE not in text and "abcdef" not in text
    assert out["body"]["ok"] == "keep"
