"""date: reformatting, empties, lists, format checks at load, failures naming field and format."""

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
ISO = {"from": "%Y%m%d", "to": "%Y-%m-%d"}


def run(config: Any, body: Any) -> Any:
    return STEPS["date"].compile(config, CTX)(Message(body)).body


def test_reformat_with_time_and_int_input() -> None:
    cfg = {"fields": ["t", "d"], "from": "%Y%m%d%H%M%S", "to": "%Y-%m-%d %H:%M:%S"}
    assert run(cfg, {"t": "20240816182301", "d": 20240816000000}) == \
        {"t": "2024-08-16 18:23:01", "d": "2024-08-16 00:00:00"}


def test_single_field_shorthand_and_whitespace() -> None:
    assert run({"fields": "d", **ISO}, {"d": " 19820821 "}) == {"d": "1982-08-21"}


@pytest.mark.parametrize("value", [None, ""])
def test_empty_values_left_alone(value: Any) -> None:
    assert run({"fields": ["d"], **ISO}, {"d": value}) == {"d": value}


def test_missing_field_and_lists() -> None:
    body = {"rows": [{"d": "20240101"}, {"x": 1}], "tags": ["20240102", ""]}
    assert run({"fields": ["rows.d", "tags", "nope"], **ISO}, body) == \
        {"rows": [{"d": "2024-01-01"}, {"x": 1}], "tags": ["2024-01-02", ""]}


@pytest.mark.parametrize("value", ["1982-08-21", "19821321", "abc"])
def test_unparsable_names_field_and_format(value: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        run({"fields": ["patient.birth_date"], **ISO}, {"patient": {"birth_date": value}})
    assert info.value.message == f"date: patient.birth_date: {value!r} does not match %Y%m%d"
    assert info.value.status == 422


def test_several_input_formats_named_in_the_error() -> None:
    cfg = {"fields": ["d"], "from": ["%Y%m%d", "%Y/%m/%d"], "to": "%Y-%m-%d"}
    assert run(cfg, {"d": "2024/08/16"}) == {"d": "2024-08-16"}
    with pytest.raises(ValidationFailed, match="does not match %Y%m%d or %Y/%m/%d"):
        run(cfg, {"d": "16.08.2024"})


@pytest.mark.parametrize("config", [
    {"fields": [], **ISO}, {"fields": ["d"], "from": "%Y%m%d"}, {"fields": ["d"], **ISO, "x": 1},
    {"fields": ["d"], "from": "YYYYMMDD", "to": "%Y"},
    {"fields": ["d"], "from": "%Y%Q", "to": "%Y"},
    {"fields": ["d..e"], **ISO}, "d",
])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["date"].model.model_validate(config)
