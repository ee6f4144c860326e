"""map_values: YAML-typed keys against string values, default, lists, long/short forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def run(config: Any, body: Any) -> Any:
    return STEPS["map_values"].compile(config, CTX)(Message(body)).body


def test_int_and_bool_keys_match_strings_and_natives() -> None:
    cfg = {"sex": {1: "男", 2: "女"}, "fasting": {True: "1", False: "0"}}
    assert run(cfg, {"sex": "1", "fasting": "true"}) == {"sex": "男", "fasting": "1"}
    assert run(cfg, {"sex": 2, "fasting": False}) == {"sex": "女", "fasting": "0"}


def test_null_key_matches_null_and_empty() -> None:
    cfg = {"status": {None: "unknown"}}
    assert run(cfg, {"status": None}) == {"status": "unknown"}
    assert run(cfg, {"status": ""}) == {"status": "unknown"}


def test_unmapped_stays_without_default_and_missing_stays_missing() -> None:
    cfg = {"type": {"mz": "outpatient"}}
    assert run(cfg, {"type": "zz"}) == {"type": "zz"}
    assert run(cfg, {"other": 1}) == {"other": 1}


def test_default_applies_to_present_unmapped_values_only() -> None:
    cfg = {"type": {"map": {"mz": "outpatient"}, "default": "other"}}
    assert run(cfg, {"type": "zy"}) == {"type": "other"}
    assert run(cfg, {"x": 1}) == {"x": 1}


def test_explicit_null_default() -> None:
    cfg = {"type": {"map": {"mz": "outpatient"}, "default": None}}
    assert run(cfg, {"type": "zy"}) == {"type": None}


def test_a_code_table_may_map_a_value_called_map() -> None:
    cfg = {"kind": {"map": "chart", "list": "table"}}
    assert run(cfg, {"kind": "map"}) == {"kind": "chart"}


def test_lists_of_scalars_and_of_dicts() -> None:
    cfg = {"tags": {"a": "A"}, "rows.code": {"1": "one"}}
    body = {"tags": ["a", "b"], "rows": [{"code": "1"}, {"code": 1}, {"code": {"x": "1"}}]}
    assert run(cfg, body) == {"tags": ["A", "b"],
                              "rows": [{"code": "one"}, {"code": "one"}, {"code": {"x": "1"}}]}


@pytest.mark.parametrize("config", [{}, ["a"], {"a..b": {"x": "y"}}, {"a": "notamap"},
                                    {"a": 5}, "a"])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["map_values"].model.model_validate(config)
