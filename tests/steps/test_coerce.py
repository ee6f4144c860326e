"""coerce: each type's accepted spellings, failures naming path and value, empties, lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.errors import ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def one(type_name: str, value: Any) -> Any:
    step = STEPS["coerce"].compile({"v": type_name}, CTX)
    return step(Message({"v": value})).body["v"]


@pytest.mark.parametrize(("type_name", "value", "out"), [
    ("int", "41", 41), ("int", " 41 ", 41), ("int", "-3", -3), ("int", "3.0", 3), ("int", 7, 7),
    ("int", 7.0, 7), ("int", True, 1), ("int", "12345678901234567890", 12345678901234567890),
    ("float", "12.50", 12.5), ("float", 3, 3.0), ("float", "1e3", 1000.0),
    ("bool", "Y", True), ("bool", "yes", True), ("bool", "TRUE", True), ("bool", "1", True),
    ("bool", 1, True), ("bool", "n", False), ("bool", "No", False), ("bool", "false", False),
    ("bool", "0", False), ("bool", 0, False), ("bool", False, False),
    ("str", 7, "7"), ("str", 1.5, "1.5"), ("str", True, "true"), ("str", "x", "x"),
])
def test_accepted(type_name: str, value: Any, out: Any) -> None:
    got = one(type_name, value)
    assert got == out and type(got) is type(out)


@pytest.mark.parametrize(("type_name", "value"), [
    ("int", "abc"), ("int", "3.5"), ("int", 3.5), ("int", "nan"), ("int", {"a": 1}),
    ("float", "abc"), ("float", "nan"), ("float", "inf"), ("float", True),
    ("bool", "maybe"), ("bool", 2), ("str", {"a": 1}),
])
def test_rejected_with_path_and_value(type_name: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        one(type_name, value)
    assert info.value.message.startswith(f"coerce: v: {value!r} is not a")
    assert info.value.message.endswith(type_name)
    assert info.value.status == 422


def test_message_wording() -> None:
    step = STEPS["coerce"].compile({"patient.age": "int"}, CTX)
    with pytest.raises(ValidationFailed, match=r"^coerce: patient.age: 'abc' is not an int$"):
        step(Message({"patient": {"age": "abc"}}))


@pytest.mark.parametrize("type_name", ["int", "float", "bool", "str"])
@pytest.mark.parametrize("value", [None, ""])
def test_null_and_empty_unchanged(type_name: str, value: Any) -> None:
    assert one(type_name, value) == value


def test_a_subtree_inside_a_list_is_named() -> None:
    with pytest.raises(ValidationFailed, match=r"^coerce: v: \{'a': 1\} is not a str$"):
        one("str", ["x", {"a": 1}])


def test_lists_and_missing() -> None:
    step = STEPS["coerce"].compile({"rows.n": "int", "tags": "int", "absent": "int"}, CTX)
    body = step(Message({"rows": [{"n": "1"}, {}, {"n": "2"}], "tags": ["3", "4"]})).body
    assert body == {"rows": [{"n": 1}, {}, {"n": 2}], "tags": [3, 4]}


@pytest.mark.parametrize("config", [{"a": "integer"}, {}, ["a"], {"a..b": "int"}])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["coerce"].model.model_validate(config)
