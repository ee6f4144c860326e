"""wrap / unwrap: envelope order, as_string, sniffed JSON/XML payloads, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from bridge.errors import ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def step(name: str, config: Any) -> Any:
    return STEPS[name].compile(config, CTX)


def test_wrap_header_first_then_body() -> None:
    msg = Message({"b": 1}, secrets={"sid": "S"}, meta={"request_id": "q"})
    cfg = {"into": "data",
           "with": {"systemId": "{secrets.sid}", "id": "{meta.request_id}", "copy": "{b}"}}
    out = step("wrap", cfg)(msg).body
    assert list(out) == ["systemId", "id", "copy", "data"]
    assert out == {"systemId": "S", "id": "q", "copy": 1, "data": {"b": 1}}


def test_wrap_as_string_is_compact_json_with_non_ascii() -> None:
    out = step("wrap", {"into": "data", "as_string": True})(Message({"n": "门诊", "l": [1]})).body
    assert out == {"data": '{"n":"门诊","l":[1]}'}


def test_wrap_then_unwrap_round_trip() -> None:
    body = {"x": {"y": [1, "二"]}}
    wrapped = step("wrap", {"into": "data", "with": {"m": "M"}, "as_string": True})(
        Message(orjson.loads(orjson.dumps(body))))
    assert step("unwrap", "data")(wrapped).body == body


def test_unwrap_dotted_path_and_non_string_payload() -> None:
    assert step("unwrap", "a.b")(Message({"a": {"b": [1, 2]}})).body == [1, 2]


def test_unwrap_xml_string_sets_meta_root() -> None:
    msg = Message({"return": "  <?xml version='1.0'?>\n<Response a='1'><Code>0</Code></Response>"})
    out = step("unwrap", {"from": "return"})(msg)
    assert out.body == {"@a": "1", "Code": "0"}
    assert out.meta["root"] == "Response"


def test_unwrap_json_with_leading_whitespace_and_array() -> None:
    assert step("unwrap", "d")(Message({"d": "\n  [1, {\"a\": null}]"})).body == [1, {"a": None}]


def test_unwrap_plain_string_stays_a_string() -> None:
    assert step("unwrap", "d")(Message({"d": "OK"})).body == "OK"


def test_unwrap_missing_is_422() -> None:
    with pytest.raises(ValidationFailed, match="unwrap: data: missing"):
        step("unwrap", "data")(Message({"other": 1}))


@pytest.mark.parametrize("payload", ['{"a": ', "<a><b></a>", "<!DOCTYPE x><x/>"])
def test_unwrap_parse_failure_is_422(payload: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        step("unwrap", "data")(Message({"data": payload}))
    assert info.value.status == 422
    assert info.value.message.startswith("unwrap: data: ")


@pytest.mark.parametrize(("name", "config"), [
    ("wrap", {}), ("wrap", {"into": ""}), ("wrap", {"into": "data", "with": {"data": 1}}),
    ("wrap", {"into": "data", "as_string": "maybe"}), ("wrap", "data"),
    ("unwrap", {}), ("unwrap", {"from": "a..b"}), ("unwrap", {"from": "a", "x": 1}), ("unwrap", 3),
])
def test_invalid_config(name: str, config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS[name].model.model_validate(config)
