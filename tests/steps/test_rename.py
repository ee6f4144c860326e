"""rename: map and glossary, reverse, paths, glossary errors at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
ROOT = Path(__file__).resolve().parents[2]


def run(config: Any, body: Any, base: Path = ROOT) -> Any:
    return STEPS["rename"].compile(config, BuildContext(base_dir=base))(Message(body)).body


def test_whole_tree_recursively_preserving_order() -> None:
    body = {"z": 1, "code": {"code": [{"code": 2, "x": 3}]}, "a": 4}
    out = run({"map": {"code": "c"}}, body)
    assert out == {"z": 1, "c": {"c": [{"c": 2, "x": 3}]}, "a": 4}
    assert list(out) == ["z", "c", "a"]


def test_glossary_relative_to_config_dir_and_map_wins() -> None:
    out = run({"glossary": "transforms/glossary/referral.yaml", "map": {"hzxm": "name"}},
              {"hzxm": "张三", "sfzh": "330682", "csrq": "19820821"})
    assert out == {"name": "张三", "id_no": "330682", "birth_date": "19820821"}


def test_reverse_round_trip_of_the_shipped_glossary() -> None:
    legacy = {"orderid": "1", "fqyydm": "H", "bespeak": [{"ghdh": "G", "yyrq": "20240801"}]}
    forward = run({"glossary": "transforms/glossary/referral.yaml"}, dict(legacy))
    back = run({"glossary": "transforms/glossary/referral.yaml", "reverse": True}, forward)
    assert back == legacy


def test_paths_limit_to_subtrees_through_lists() -> None:
    body = {"id": 1, "items": [{"sub": {"id": 2}}, {"sub": {"id": 3}}, {"other": {"id": 4}}]}
    out = run({"map": {"id": "ID"}, "paths": ["items.sub"]}, body)
    assert out == {"id": 1, "items": [{"sub": {"ID": 2}}, {"sub": {"ID": 3}},
                                      {"other": {"id": 4}}]}


def test_glossary_names_are_never_yaml_bools_or_numbers(tmp_path: Path) -> None:
    # `1:` and `true:` would collide as Python keys; `no` and `y` would become booleans
    (tmp_path / "g.yaml").write_text("1: one\ntrue: yes\nno: number\ny: null\nplain: 007\n",
                                     encoding="utf-8")
    body = {"1": "a", "true": "b", "no": "c", "y": "d", "plain": "e"}
    assert run({"glossary": "g.yaml"}, body, tmp_path) == \
        {"one": "a", "yes": "b", "number": "c", "null": "d", "007": "e"}


@pytest.mark.parametrize(("text", "error"), [
    (None, "glossary not found"),
    ("- a\n- b\n", "flat mapping"),
    ("a: {b: c}\n", "plain string"),
    ("a:\n", "non-empty"),
    ("a: [b\n", "cannot read"),
])
def test_bad_glossary_is_a_value_error_at_build(tmp_path: Path, text: str | None,
                                                error: str) -> None:
    if text is not None:
        (tmp_path / "g.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        run({"glossary": "g.yaml"}, {}, tmp_path)


def test_ambiguous_reverse(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("a: x\nb: x\n", encoding="utf-8")
    assert run({"glossary": "g.yaml"}, {"a": 1}, tmp_path) == {"x": 1}
    with pytest.raises(ValueError, match="reverse is ambiguous"):
        run({"glossary": "g.yaml", "reverse": True}, {}, tmp_path)


@pytest.mark.parametrize("config", [{}, {"map": {"a": "b"}, "reverse": True},
                                    {"map": {"a": "b"}, "paths": ["a."]},
                                    {"map": {"a": "b"}, "unknown": 1}, "a"])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["rename"].model.model_validate(config)
