"""drop / keep: nested paths, lists, absent paths, shorthand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def run(name: str, config: Any, body: Any) -> Any:
    return STEPS[name].compile(config, CTX)(Message(body)).body


def test_drop_absent_paths_are_ignored_and_single_path_shorthand() -> None:
    assert run("drop", "x.y", {"a": 1}) == {"a": 1}
    assert run("drop", "a", {"a": 1, "b": 2}) == {"b": 2}


def test_drop_nested_through_lists() -> None:
    body = {"rows": [{"p": {"id": 1, "n": 2}}, {"p": {"n": 3}}]}
    assert run("drop", ["rows.p.id"], body) == {"rows": [{"p": {"n": 2}}, {"p": {"n": 3}}]}


def test_keep_nested_keeps_parent_with_only_the_child() -> None:
    body = {"a": {"b": 1, "c": 2}, "d": 3, "e": {"f": 4}}
    assert run("keep", ["a.b", "e"], body) == {"a": {"b": 1}, "e": {"f": 4}}


def test_keep_shorter_path_covers_longer() -> None:
    body = {"a": {"b": 1, "c": 2}}
    assert run("keep", ["a.b", "a"], body) == body
    assert run("keep", ["a", "a.b"], body) == body


def test_keep_lists_keep_item_positions() -> None:
    body = {"rows": [{"id": 1, "x": 1}, {"x": 2}, "scalar"], "y": 0}
    assert run("keep", ["rows.id"], body) == {"rows": [{"id": 1}, {}]}


def test_keep_drops_a_scalar_where_a_subtree_was_meant() -> None:
    assert run("keep", ["a.b", "c"], {"a": "text", "c": 1}) == {"c": 1}


def test_keep_preserves_order_of_the_body() -> None:
    out = run("keep", ["c", "a"], {"a": 1, "b": 2, "c": 3})
    assert list(out) == ["a", "c"]


@pytest.mark.parametrize("name", ["drop", "keep"])
@pytest.mark.parametrize("config", [[], {"a": 1}, ["a..b"], [1]])
def test_invalid_config(name: str, config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS[name].model.model_validate(config)
