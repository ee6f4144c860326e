"""Property: a leading `rename` or `case` step fused into the XML decoder (bridge.runtime) gives
the body the step itself would give: same keys, same order, same lists, collisions included."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.codecs import xmltree
from bridge.message import Message
from bridge.steps.case import CaseConfig, Recase
from bridge.steps.rename import Rename

from tests.property.strategies import xml_names, xml_trees

#: renames that collide on purpose: several names onto one, names onto existing names
renames = st.dictionaries(xml_names, st.sampled_from(["a", "b", "order_id", "orderId", "x"]) | xml_names,
                          max_size=8)
styles = st.sampled_from(["snake", "camel", "pascal", "upper", "kebab", "upper_flat"])


def parsed(tree: Any, lists: list[str]) -> tuple[Any, Any]:
    root = xmltree.parse(xmltree.tree_to_xml(tree, "root"))[0]
    return root, xmltree.build_list_index(lists)


def step_then(step: Any, root: Any, index: Any) -> Any:
    return step(Message(xmltree.element_to_tree(root, index))).body


@given(xml_trees, renames, st.lists(xml_names, max_size=2))
def test_fused_rename_equals_the_rename_step(tree: Any, names: dict[str, str], lists: list[str]) -> None:
    step = Rename(names, [])
    root, index = parsed(tree, lists)
    fused = xmltree.element_to_tree(root, index, keymap=step.key_function())
    assert fused == step_then(step, root, index)
    assert list(_keys(fused)) == list(_keys(step_then(step, root, index)))     # order too


@given(xml_trees, styles, st.lists(xml_names, max_size=2))
def test_fused_case_equals_the_case_step(tree: Any, style: str, lists: list[str]) -> None:
    step = Recase(CaseConfig(to=style))
    root, index = parsed(tree, lists)
    fused = xmltree.element_to_tree(root, index, keymap=step.key_function())
    assert fused == step_then(Recase(CaseConfig(to=style)), root, index)
    assert list(_keys(fused)) == list(_keys(step_then(Recase(CaseConfig(to=style)), root, index)))


def test_steps_limited_to_paths_or_keeping_subtrees_are_not_fused() -> None:
    assert Rename({"a": "b"}, [__import__("bridge.paths").paths.Path("head")]).key_function() is None
    assert Recase(CaseConfig(to="snake", keep=["extra"])).key_function() is None
    assert Recase(CaseConfig(to="snake", paths=["data"])).key_function() is None


def _keys(node: Any) -> Any:
    """Every key in document order, depth first."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from _keys(v)


def test_the_shipped_routes_fuse_only_where_the_body_before_the_step_is_not_needed() -> None:
    from bridge.testing import load_runtime

    runtime = load_runtime("routes.yaml")
    routes = {r.name: r for r in runtime.routes}
    apply = routes["referral.apply"]          # XML in, rename first, no `request` template
    assert [name for name, _ in apply.pipeline.steps] == ["validate", "date"]
    for route in runtime.routes:
        first = route.config.pipeline[0] if route.config.pipeline else None
        named = next(iter(first)) if isinstance(first, dict) else first
        fused = named in ("rename", "case") and (not route.pipeline.steps
                                                  or len(route.pipeline.steps) < len(route.config.pipeline))
        if route.keep_request or route.config.inbound.format in ("json", "form"):
            assert not fused, route.name     # the step runs as a step


@given(xml_trees, st.lists(xml_names, max_size=2), st.booleans())
def test_the_plain_path_gives_the_same_tree(tree: Any, lists: list[str], gbk: bool) -> None:
    """A document with no `=` after its declaration is converted without looking for
    attributes or namespaces: the tree is the one the full path makes."""
    data = xmltree.tree_to_xml(tree, "root", encoding="GBK" if gbk else "UTF-8")
    text: Any = data.decode("gb18030") if gbk else data
    root, _, plain = xmltree.parse_plain(text)
    index = xmltree.build_list_index(lists)
    full = xmltree.element_to_tree(root, index)
    assert plain == (b"=" not in data.split(b"?>", 1)[1])
    if plain:
        fast = xmltree.element_to_tree(root, index, plain=True)
        assert fast == full and list(_keys(fast)) == list(_keys(full))
