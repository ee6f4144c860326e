"""set / default: templates, typed placeholders, created parents, lists, empties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def run(name: str, config: Any, body: Any, **kw: Any) -> Any:
    return STEPS[name].compile(config, CTX)(Message(body, **kw)).body


def test_set_overwrites_and_creates_parents() -> None:
    out = run("set", {"a": 1, "head.meta.route": "{meta.route}"}, {"a": 0},
              meta={"route": "r1"})
    assert out == {"a": 1, "head": {"meta": {"route": "r1"}}}


def test_set_lone_placeholder_keeps_type_and_template_trees() -> None:
    out = run("set", {"copy": "{items}", "env": {"id": "{meta.request_id}", "n": 3}},
              {"items": [1, 2]}, meta={"request_id": "q"})
    assert out == {"items": [1, 2], "copy": [1, 2], "env": {"id": "q", "n": 3}}


def test_set_on_every_list_item_without_shared_objects() -> None:
    out = run("set", {"rows.tag": {"k": "v"}}, {"rows": [{}, {}]})
    assert out == {"rows": [{"tag": {"k": "v"}}, {"tag": {"k": "v"}}]}
    out["rows"][0]["tag"]["k"] = "changed"
    assert out["rows"][1]["tag"]["k"] == "v"


def test_set_on_an_empty_body() -> None:
    assert run("set", {"a": "x"}, None) == {"a": "x"}
    assert run("set", {"a": "x"}, "") == {"a": "x"}


def test_fields_apply_in_order() -> None:
    assert run("set", {"a": "1", "b": "{a}{a}"}, {}) == {"a": "1", "b": "11"}


@pytest.mark.parametrize(("value", "filled"), [(None, True), ("", True), ("x", False),
                                               (0, False), (False, False), ([], False)])
def test_default_only_where_missing_null_or_empty(value: Any, filled: bool) -> None:
    out = run("default", {"a": "D"}, {"a": value})
    assert out == {"a": "D" if filled else value}


def test_default_through_lists_and_created_parents() -> None:
    out = run("default", {"rows.s": "0", "head.code": "1"}, {"rows": [{"s": "9"}, {"s": ""}, {}]})
    assert out == {"rows": [{"s": "9"}, {"s": "0"}, {"s": "0"}], "head": {"code": "1"}}


@pytest.mark.parametrize("name", ["set", "default"])
@pytest.mark.parametrize("config", [{}, ["a"], {"a..b": 1}, "a"])
def test_invalid_config(name: str, config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS[name].model.model_validate(config)
