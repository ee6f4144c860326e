"""Property: decode(encode(tree)) == tree for every codec and charset (DESIGN §2).

XML: trees of valid names and text; repeated siblings (>= 2) come back as lists, and a path
declared in ``lists:`` comes back as a list whatever its length (0, 1 or more). JSON: any JSON
value. Form: flat dicts of strings. SOAP: 1.1 and 1.2, operation children or a string parameter.
Everything goes through the inbound codec's own parse() and the route decoder.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from bridge.codecs import CODECS, charset, xmltree
from bridge.codecs.base import Inbound, ParseOptions
from bridge.codecs.soap import encode_request

from tests.property.strategies import form_fields, json_values, xml_elements, xml_names, xml_text, xml_trees

CHARSETS = ["UTF-8", "GBK", "GB18030", "GB2312"]
OPTS = ParseOptions()


def route_cfg(lists: list[str] = [], param: str | None = None) -> Any:  # noqa: B006
    """The part of an inbound route config the decoders read."""
    return SimpleNamespace(lists=lists, soap=SimpleNamespace(param=param) if param else None,
                           recover=False)


def xml_roundtrip(tree: Any, root: str, label: str, lists: list[str] = []) -> tuple[str, Any]:  # noqa: B006
    codec = CODECS["xml"]
    rendered = codec.render(tree, Inbound("xml", label, "application/xml"), root=root, namespace=None)
    inb = codec.parse(rendered.body, "application/xml", None, OPTS)
    assert inb.charset == charset.canonical_label(label)      # the declaration names the charset
    body, key = codec.decoder(route_cfg(lists), 100)(inb)
    return key or "", body


@given(tree=xml_trees, root=xml_names, label=st.sampled_from(CHARSETS))
def test_xml_tree_roundtrip(tree: Any, root: str, label: str) -> None:
    assert xml_roundtrip(tree, root, label) == (root, tree)


@given(items=st.lists(xml_elements, max_size=3), other=xml_text, label=st.sampled_from(CHARSETS),
       nested=st.booleans())
def test_declared_lists_stay_lists_at_any_length(items: list[Any], other: str, label: str,
                                                 nested: bool) -> None:
    if nested:
        tree, lists = {"Wrap": {"Record": items, "Other": other}}, ["Wrap.Record"]
    else:
        tree, lists = {"Record": items, "Other": other}, ["Record"]
    root, body = xml_roundtrip(tree, "Request", label, lists)
    assert body == tree
    record = body["Wrap"]["Record"] if nested else body["Record"]
    assert isinstance(record, list) and len(record) == len(items)


@given(value=json_values, label=st.sampled_from(CHARSETS))
def test_json_roundtrip(value: Any, label: str) -> None:
    codec = CODECS["json"]
    rendered = codec.render(value, Inbound("json", label, "application/json"), root="r", namespace=None)
    inb = codec.parse(rendered.body, "application/json", label, OPTS)
    body, _ = codec.decoder(route_cfg(), 100)(inb)
    assert body == value


@given(fields=form_fields, label=st.sampled_from(["UTF-8", "GB18030"]))
def test_form_roundtrip(fields: dict[str, str], label: str) -> None:
    codec = CODECS["form"]
    data = urlencode(fields, encoding=charset.python_codec(label)).encode("ascii")
    inb = codec.parse(data, "application/x-www-form-urlencoded", label, OPTS)
    body, _ = codec.decoder(route_cfg(), 100)(inb)
    assert body == fields


@given(fields=st.dictionaries(xml_names, st.lists(xml_text, min_size=2, max_size=3), min_size=1, max_size=3))
def test_form_repeated_keys_become_lists(fields: dict[str, list[str]]) -> None:
    data = urlencode(fields, doseq=True).encode("ascii")
    inb = CODECS["form"].parse(data, "application/x-www-form-urlencoded", "utf-8", OPTS)
    assert inb.doc == fields


@given(tree=xml_trees, op=xml_names, version=st.sampled_from(["1.1", "1.2"]),
       param=st.sampled_from([None, "xml"]), inner=xml_names, label=st.sampled_from(CHARSETS))
def test_soap_roundtrip(tree: Any, op: str, version: str, param: str | None, inner: str,
                        label: str) -> None:
    codec = CODECS["soap"]
    data, headers = encode_request(tree, version=version, operation=op, namespace="urn:t", param=param,
                                   inner_root=inner, action=None, encoding=label)
    media, _, _ = headers["Content-Type"].partition(";")
    inb = codec.parse(data, media, None, OPTS)
    assert (inb.key, inb.soap_version) == (op, version)
    body, root = codec.decoder(route_cfg(param=param), 100)(inb)
    assert body == tree
    if param:
        assert root == inner


def test_the_generators_reach_lists_attributes_and_text() -> None:
    """The strategies are not vacuous: trees with all three shapes exist among the examples."""
    seen: set[str] = set()

    @given(tree=xml_trees)
    def collect(tree: Any) -> None:
        text = repr(tree)
        if "[" in text:
            seen.add("list")
        if "'@" in text:
            seen.add("attribute")
        if "#text" in text:
            seen.add("text")
    collect()
    assert seen == {"list", "attribute", "text"}
    assert xmltree.local("{urn:x}a") == "a"
