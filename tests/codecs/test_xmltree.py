"""The body tree rules of DESIGN §2 for XML, hostile XML, malformed XML and legacy repair."""

from __future__ import annotations

import pytest
from lxml import etree

from bridge.codecs import xmltree
from bridge.codecs.xmltree import build_list_index, element_to_tree, parse, tree_to_xml, xml_to_tree
from bridge.errors import BadRequest


def decode(xml: str | bytes, lists: list[str] | None = None) -> tuple[str, object]:
    return xml_to_tree(xml if isinstance(xml, bytes) else xml.encode(), lists=lists or [])


# -- decode -----------------------------------------------------------------------------

def test_root_is_not_a_key() -> None:
    assert decode("<referral><orderid>1</orderid></referral>") == ("referral", {"orderid": "1"})


def test_attributes_and_text_together() -> None:
    root, tree = decode('<r><a x="1" y="2">text</a><b k="v"/></r>')
    assert tree == {"a": {"@x": "1", "@y": "2", "#text": "text"}, "b": {"@k": "v"}}


def test_text_next_to_children_is_kept_under_hash_text() -> None:
    _, tree = decode("<r><p>x<b>y</b></p></r>")
    assert tree == {"p": {"#text": "x", "b": "y"}}


def test_repeated_siblings_become_a_list_in_document_order() -> None:
    _, tree = decode("<r><i>1</i><j>x</j><i>2</i><i>3</i></r>")
    assert tree == {"i": ["1", "2", "3"], "j": "x"}


def test_declared_lists_with_one_and_zero_items() -> None:
    xml = "<r><bespeak><id>1</id></bespeak></r>"
    assert decode(xml, ["bespeak"])[1] == {"bespeak": [{"id": "1"}]}
    assert decode("<r><other>1</other></r>", ["bespeak"])[1] == {"other": "1", "bespeak": []}
    assert decode("<r/>", ["bespeak"])[1] == {"bespeak": []}


def test_nested_declared_lists() -> None:
    xml = "<r><WorkInfo><Record><WorkId>7</WorkId></Record></WorkInfo></r>"
    assert decode(xml, ["WorkInfo.Record"])[1] == {"WorkInfo": {"Record": [{"WorkId": "7"}]}}
    # the same element name elsewhere in the tree is not affected
    xml = "<r><Record>1</Record><WorkInfo><Record>2</Record></WorkInfo></r>"
    assert decode(xml, ["WorkInfo.Record"])[1] == {"Record": "1", "WorkInfo": {"Record": ["2"]}}
    # inside a list, every item gets the rule
    xml = "<r><a><b>1</b></a><a><c>2</c></a></r>"
    assert decode(xml, ["a", "a.b"])[1] == {"a": [{"b": ["1"]}, {"c": "2", "b": []}]}


def test_empty_elements_are_empty_strings() -> None:
    _, tree = decode("<r><a/><b></b><c>  \n </c></r>")
    assert tree == {"a": "", "b": "", "c": ""}


def test_empty_can_be_null() -> None:
    root, _ = parse(b"<r><a/><b>1</b></r>")
    assert element_to_tree(root, empty=None) == {"a": None, "b": "1"}


def test_whitespace_formatting_is_not_data() -> None:
    xml = "<r>\n  <a>1</a>\n  <b>\n    <c>2</c>\n  </b>\n</r>\n"
    assert decode(xml)[1] == {"a": "1", "b": {"c": "2"}}
    assert decode(xml)[1] == decode("<r><a>1</a><b><c>2</c></b></r>")[1]


def test_namespaces_are_dropped_on_decode() -> None:
    xml = '<p:r xmlns:p="urn:p" xmlns="urn:d"><a p:k="v">1</a><p:b>2</p:b></p:r>'
    assert decode(xml) == ("r", {"a": {"@k": "v", "#text": "1"}, "b": "2"})


def test_cdata_is_text() -> None:
    assert decode("<r><a><![CDATA[<x>&y]]></a></r>")[1] == {"a": "<x>&y"}


def test_comments_and_processing_instructions_are_ignored() -> None:
    assert decode("<r><!-- c --><a>1</a><?pi x?></r>")[1] == {"a": "1"}


def test_build_list_index() -> None:
    assert build_list_index(["a.b", "a", "c"]) == {"a": (True, {"b": (True, {})}), "c": (True, {})}


# -- encode -----------------------------------------------------------------------------

def test_encode_preserves_key_order_and_repeats_lists() -> None:
    tree = {"z": "1", "a": ["x", "y"], "m": {"@k": "v", "#text": "t"}}
    out = tree_to_xml(tree, "root", declaration=False)
    assert out == b'<root><z>1</z><a>x</a><a>y</a><m k="v">t</m></root>'


def test_encode_values_and_empties() -> None:
    out = tree_to_xml({"t": True, "f": False, "n": None, "e": "", "i": 3, "l": []}, "r",
                      declaration=False)
    assert out == b"<r><t>true</t><f>false</f><n/><e></e><i>3</i></r>"


def test_encode_applies_the_namespace_to_every_element() -> None:
    out = tree_to_xml({"a": {"b": "1"}}, "root", namespace="urn:x", declaration=False)
    el = etree.fromstring(out)
    assert el.tag == "{urn:x}root"
    assert [e.tag for e in el.iter()] == ["{urn:x}root", "{urn:x}a", "{urn:x}b"]


def test_encode_declaration_names_the_encoding_given() -> None:
    out = tree_to_xml({"name": "张三"}, "r", encoding="GBK")
    assert out.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    assert "张三".encode("gbk") in out


def test_round_trip() -> None:
    xml = b'<r><a k="v">t</a><i>1</i><i>2</i><e></e><deep><x>1</x></deep></r>'
    root, tree = xml_to_tree(xml)
    assert tree_to_xml(tree, root, declaration=False) == xml


# -- hostile and malformed ---------------------------------------------------------------

@pytest.mark.parametrize("doc", [
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><r>&lol2;</r>',
    '<!doctype r SYSTEM "http://127.0.0.1:1/x.dtd"><r/>',
    '<!-- ' + "x" * 70000 + ' -->\n<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>',
])
def test_dtds_and_entities_are_refused(doc: str) -> None:
    for source in (doc, doc.encode()):
        with pytest.raises(BadRequest) as info:
            parse(source)
        assert info.value.code == "dtd_refused"
        assert "DTD" in info.value.message
        assert info.value.status == 400


def test_dtd_refusal_names_the_line() -> None:
    with pytest.raises(BadRequest) as info:
        parse("<?xml version='1.0'?>\n\n<!DOCTYPE r>\n<r/>")
    assert "line 3" in info.value.message


def test_depth_is_bounded() -> None:
    deep = "<a>" * 120 + "x" + "</a>" * 120
    with pytest.raises(BadRequest) as info:
        xml_to_tree(deep)
    assert info.value.code == "too_deep"
    root, _ = parse(deep)
    assert isinstance(element_to_tree(root, max_depth=200), dict)
    with pytest.raises(BadRequest):
        element_to_tree(root, max_depth=10)


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(BadRequest) as info:
        parse(b"<r>\n  <a>1</b>\n</r>")
    err = info.value
    assert err.code == "malformed_xml" and err.status == 400
    assert err.detail["line"] == 2
    assert "line 2, column" in err.message
    assert "mismatch" in err.message


@pytest.mark.parametrize("doc", [b"", b"   ", b"not xml", b"<r>", b"<r></r><r/>"])
def test_garbage_is_a_bad_request(doc: bytes) -> None:
    with pytest.raises(BadRequest):
        parse(doc)


def test_recover_repairs_spaced_end_tag() -> None:
    doc = "<referral>\n<mzzycxbz>1</ mzzycxbz >\n<b>2</b></referral>"
    with pytest.raises(BadRequest):
        parse(doc)
    root, repaired = parse(doc, recover=True)
    assert repaired is True
    assert element_to_tree(root) == {"mzzycxbz": "1", "b": "2"}


def test_recover_repairs_unclosed_start_tag_used_as_end_tag() -> None:
    doc = b"<r><MediCardType>01<MediCardType><CardNo>9</CardNo></r>"
    with pytest.raises(BadRequest):
        parse(doc)
    root, repaired = parse(doc, recover=True)
    assert repaired
    assert element_to_tree(root) == {"MediCardType": "01", "CardNo": "9"}


def test_recover_leaves_good_documents_alone() -> None:
    root, repaired = parse(b"<r><a>1</a></r>", recover=True)
    assert repaired is False and element_to_tree(root) == {"a": "1"}


def test_recover_does_not_let_a_dtd_through() -> None:
    with pytest.raises(BadRequest) as info:
        parse('<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</ r >', recover=True)
    assert info.value.code == "dtd_refused"


def test_bytes_override_the_declared_encoding() -> None:
    # bytes given to parse are UTF-8; the declaration is the charset module's business
    root, _ = parse('<?xml version="1.0" encoding="GBK"?><r><a>张三</a></r>'.encode())
    assert element_to_tree(root) == {"a": "张三"}


def test_local() -> None:
    assert xmltree.local("{urn:x}a") == "a"
    assert xmltree.local("a") == "a"


@pytest.mark.parametrize("doc, plain", [
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<r><a>1</a><b/></r>', True),
    (b"<r><a>1</a></r>", True),
    (b'<r><a id="1">1</a></r>', False),                      # an attribute
    (b'<r xmlns="urn:x"><a>1</a></r>', False),               # a namespace
    (b"<r><a>x=1</a></r>", False),                           # = in text: a conservative no
])
def test_plain_documents_are_the_ones_without_an_equals_sign(doc: bytes, plain: bool) -> None:
    from bridge.codecs.xmltree import parse_plain

    root, repaired, found = parse_plain(doc)
    assert (found, repaired) == (plain, False)
    assert element_to_tree(root, plain=found) == element_to_tree(root)
