"""Properties of dotted paths and ``{...}`` placeholders on generated trees (DESIGN §3)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.placeholders import compile_string, compile_tree, fmt

from tests.property.strategies import json_values

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True)
paths = st.lists(keys, min_size=1, max_size=4).map(".".join)
dict_trees = st.recursive(st.text(max_size=5) | st.integers(),
                          lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=15)


@given(tree=json_values, path=paths)
def test_get_never_raises_on_any_tree(tree: Any, path: str) -> None:
    value = Path(path).get(copy.deepcopy(tree))
    assert value is MISSING or value is not MISSING        # it answered


@given(tree=st.dictionaries(keys, dict_trees, max_size=4), path=paths, value=json_values)
def test_set_then_get_returns_the_value(tree: dict[str, Any], path: str, value: Any) -> None:
    p = Path(path)
    # through dicts only (a list on the way would set every item): the value comes back
    node: Any = tree
    for part in p.parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
    assume(isinstance(node, dict) or node in ("", None))
    p.set(tree, value)
    assert p.get(tree) == value
    assert p.exists(tree)
    p.delete(tree)
    assert not p.exists(tree)


@given(items=st.lists(st.dictionaries(keys, st.text(max_size=4), max_size=3), min_size=1, max_size=4),
       key=keys)
def test_a_path_through_a_list_reads_every_item(items: list[dict[str, str]], key: str) -> None:
    tree = {"list": items}
    found = Path(f"list.{key}").get(tree)
    present = [item[key] for item in items if key in item]
    assert found == (present if present else MISSING)


@given(value=json_values, path=paths)
def test_a_lone_placeholder_keeps_the_values_type(value: Any, path: str) -> None:
    tree: dict[str, Any] = {}
    Path(path).set(tree, value)
    rendered = compile_string("{" + path + "}")(Message(tree))
    assert rendered == value


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)


@given(value=scalars, path=paths, before=st.text(max_size=5), after=st.text(max_size=5))
def test_placeholders_inside_text_are_formatted(value: Any, path: str, before: str, after: str) -> None:
    tree: dict[str, Any] = {}
    Path(path).set(tree, value)
    escape = lambda t: t.replace("{", "{{").replace("}", "}}")  # noqa: E731
    rendered = compile_string(escape(before) + "{" + path + "}" + escape(after) + "!")(Message(tree))
    assert rendered == before + fmt(value) + after + "!"


@given(text=st.text(max_size=30))
def test_doubled_braces_are_literal(text: str) -> None:
    template = text.replace("{", "{{").replace("}", "}}")
    assert compile_string(template)(Message({})) == text


@given(template=json_values.filter(lambda v: "{" not in repr(v) and "}" not in repr(v)))
def test_a_template_without_placeholders_renders_as_itself(template: Any) -> None:
    assert compile_tree(template)(Message({"x": 1})) == template


@given(path=paths, secret=st.text(min_size=1, max_size=8))
def test_namespaces_are_read_from_their_own_place(path: str, secret: str) -> None:
    msg = Message({"a": 1}, meta={"route": "r"}, secrets={"k": secret}, error={"status": 400})
    assert compile_string("{secrets.k}")(msg) == secret
    assert compile_string("{meta.route}")(msg) == "r"
    assert compile_string("{error.status}")(msg) == 400
    assert compile_string("{body.a}")(msg) == 1
