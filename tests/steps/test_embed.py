"""embed / extract: JSON and XML both ways, whole body, lists on the way, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.errors import StepFailed, ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def step(name: str, config: Any) -> Any:
    return STEPS[name].compile(config, CTX)


def test_xml_round_trip_with_attributes_lists_and_non_ascii() -> None:
    tree = {"@version": "2", "Name": "阮柯娜", "Record": [{"a": "1"}, {"a": "2"}]}
    embedded = step("embed", {"path": "xml", "format": "xml", "root": "Request"})(
        Message({"xml": tree}))
    text = embedded.body["xml"]
    assert text == ('<Request version="2"><Name>阮柯娜</Name><Record><a>1</a></Record>'
                    "<Record><a>2</a></Record></Request>")
    back = step("extract", {"path": "xml", "format": "xml", "lists": "Record"})(embedded)
    assert back.body == {"xml": tree}
    assert "root" not in back.meta  # only a whole-body extract names the root


def test_xml_namespace() -> None:
    out = step("embed", {"path": "x", "format": "xml", "root": "R", "namespace": "urn:a"})(
        Message({"x": {"b": "1"}})).body["x"]
    assert out == '<R xmlns="urn:a"><b>1</b></R>'


def test_json_through_lists_and_empties_left_alone() -> None:
    body = {"rows": [{"d": {"a": 1}}, {"d": None}, {"d": ""}, {}]}
    out = step("embed", {"path": "rows.d"})(Message(body)).body
    assert out == {"rows": [{"d": '{"a":1}'}, {"d": None}, {"d": ""}, {}]}
    back = step("extract", {"path": "rows.d"})(Message(out)).body
    assert back == {"rows": [{"d": {"a": 1}}, {"d": None}, {"d": ""}, {}]}


def test_whole_body_without_path() -> None:
    msg = step("embed", {"format": "json"})(Message({"a": "二"}))
    assert msg.body == '{"a":"二"}'
    assert step("extract", {})(msg).body == {"a": "二"}
    xml = step("extract", {"format": "xml"})(Message("<Root><a>1</a></Root>"))
    assert xml.body == {"a": "1"} and xml.meta["root"] == "Root"


def test_extract_leaves_already_parsed_values() -> None:
    assert step("extract", {"path": "d"})(Message({"d": {"a": 1}})).body == {"d": {"a": 1}}


@pytest.mark.parametrize(("fmt", "text"), [("json", "{bad"), ("xml", "<a>"),
                                           ("xml", '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')])
def test_extract_failure_is_422_naming_the_path(fmt: str, text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        step("extract", {"path": "p.q", "format": fmt})(Message({"p": {"q": text}}))
    assert info.value.message.startswith("extract: p.q: ")


def test_embed_xml_of_a_scalar_is_a_route_bug() -> None:
    with pytest.raises(StepFailed, match="needs a mapping"):
        step("embed", {"path": "x", "format": "xml", "root": "R"})(Message({"x": "text"}))


def test_build_time_checks() -> None:
    with pytest.raises(ValueError, match="needs root"):
        step("embed", {"path": "x", "format": "xml"})
    with pytest.raises(ValueError, match="embed only"):
        step("extract", {"path": "x", "format": "xml", "root": "R"})


@pytest.mark.parametrize("config", [{"path": "a..b"}, {"format": "yaml"}, {"x": 1}, "data"])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["embed"].model.model_validate(config)
