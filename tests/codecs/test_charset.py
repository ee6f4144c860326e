"""Charsets (DESIGN §4): resolution order, GB family, bad bytes, unsupported charsets, encoding."""

from __future__ import annotations

import codecs

import pytest

from bridge.codecs import charset
from bridge.codecs.base import ParseOptions
from bridge.codecs.xml import XmlCodec, parse_document
from bridge.codecs.xmltree import element_to_tree
from bridge.errors import BadRequest, UnsupportedMediaType

GBK_DOC = '<?xml version="1.0" encoding="GBK"?><r><name>张三</name></r>'


# -- resolution order --------------------------------------------------------------------

def test_content_type_wins_over_everything() -> None:
    data = codecs.BOM_UTF8 + b'<?xml version="1.0" encoding="utf-8"?><r/>'
    assert charset.resolve(data, "gb18030", "gbk", xml=True) == "gb18030"


def test_declaration_comes_second() -> None:
    assert charset.resolve(GBK_DOC.encode("gbk"), None, "utf-8", xml=True) == "GBK"
    assert charset.resolve(b"<?xml version='1.0' encoding='gb2312' ?><r/>", None, "auto", xml=True) == "gb2312"
    # a declaration means nothing outside XML
    assert charset.resolve(GBK_DOC.encode("gbk"), None, "auto", xml=False) == "utf-8"


def test_bom_comes_third() -> None:
    data = codecs.BOM_UTF8 + "<r>张</r>".encode()
    assert charset.resolve(data, None, "gbk", xml=True) == "utf-8"
    assert charset.resolve(data, None, "gbk", xml=False) == "utf-8"


def test_route_charset_comes_last() -> None:
    assert charset.resolve(b"<r/>", None, "gbk", xml=True) == "gbk"
    assert charset.resolve(b"<r/>", None, "auto", xml=True) == "utf-8"
    assert charset.resolve(b'<?xml version="1.0"?><r/>', None, "gb18030", xml=True) == "gb18030"


def test_declared_gbk_document_is_decoded() -> None:
    root, label, repaired = parse_document(GBK_DOC.encode("gbk"), None, ParseOptions())
    assert (label, repaired) == ("GBK", False)
    assert element_to_tree(root) == {"name": "张三"}


def test_content_type_charset_overrides_a_wrong_declaration() -> None:
    data = '<?xml version="1.0" encoding="utf-8"?><r><name>张三</name></r>'.encode("gbk")
    root, label, _ = parse_document(data, "gbk", ParseOptions())
    assert label == "GBK" and element_to_tree(root) == {"name": "张三"}


def test_route_charset_reads_undeclared_gbk() -> None:
    data = "<r><name>张三</name></r>".encode("gbk")
    root, label, _ = parse_document(data, None, ParseOptions(route_charset="gbk"))
    assert label == "GBK" and element_to_tree(root) == {"name": "张三"}
    with pytest.raises(BadRequest):   # the same bytes read as UTF-8 are invalid
        parse_document(data, None, ParseOptions())


def test_utf8_bom_document() -> None:
    data = codecs.BOM_UTF8 + '<?xml version="1.0" encoding="UTF-8"?><r><a>张</a></r>'.encode()
    root, label, _ = parse_document(data, None, ParseOptions(route_charset="gbk"))
    assert label == "UTF-8" and element_to_tree(root) == {"a": "张"}


# -- the GB family --------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["GBK", "gbk", "GB2312", "gb2312", "GB18030", "cp936"])
def test_gb_labels_decode(label: str) -> None:
    assert charset.python_codec(label) == "gb18030"
    assert charset.decode("转诊申请".encode("gbk"), label) == "转诊申请"


def test_gb2312_label_with_gbk_only_characters() -> None:
    # 镕 is in GBK but not in GB2312; legacy systems declaring GB2312 send it anyway
    assert charset.decode("朱镕基".encode("gbk"), "GB2312") == "朱镕基"


def test_gb18030_four_byte_characters() -> None:
    assert charset.decode("𠀀😀".encode("gb18030"), "GB18030") == "𠀀😀"


def test_decode_strips_a_bom() -> None:
    assert charset.decode(codecs.BOM_UTF8 + b"abc", "utf-8") == "abc"


# -- errors ---------------------------------------------------------------------------------

def test_invalid_bytes_name_the_offset_and_line() -> None:
    data = "<r>\n<a>张</a>".encode("gbk") + b"\xff\xff</r>"
    with pytest.raises(BadRequest) as info:
        charset.decode(data, "GBK")
    err = info.value
    assert err.status == 400 and err.code == "bad_charset"
    offset = data.index(b"\xff")
    assert err.message == f"body is not valid GBK: bad byte at offset {offset} (line 2)"


def test_invalid_utf8_names_the_offset() -> None:
    with pytest.raises(BadRequest) as info:
        charset.decode(b"abc\xffdef", "utf-8")
    assert "UTF-8" in info.value.message and "offset 3" in info.value.message


def test_invalid_bytes_in_a_declared_gbk_xml_document() -> None:
    data = GBK_DOC.encode("gbk").replace("三".encode("gbk"), b"\xff\xfe")
    with pytest.raises(BadRequest) as info:
        XmlCodec().parse(data, "application/xml", None, ParseOptions())
    assert "GBK" in info.value.message and "offset" in info.value.message


@pytest.mark.parametrize("label", ["klingon", "utf-16", "UTF-32LE", "x-unknown-8"])
def test_unsupported_charset_is_415(label: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        charset.python_codec(label)
    assert info.value.status == 415
    assert label in info.value.message


def test_unsupported_charset_from_content_type_on_parse() -> None:
    with pytest.raises(UnsupportedMediaType):
        XmlCodec().parse(b"<r/>", "application/xml", "klingon", ParseOptions())
    with pytest.raises(UnsupportedMediaType):
        XmlCodec().parse(b'<?xml version="1.0" encoding="utf-16"?><r/>', "application/xml", None,
                         ParseOptions())


# -- encode ----------------------------------------------------------------------------------

def test_encode_gbk() -> None:
    assert charset.encode("张三", "GBK") == "张三".encode("gbk")
    assert charset.encode("张三", "utf-8") == "张三".encode()


def test_encode_uses_character_references_for_what_the_charset_cannot_hold() -> None:
    assert charset.encode("a€b", "latin-1") == b"a&#8364;b"
    assert charset.encode("ü😀", "iso-8859-1") == b"\xfc&#128512;"


def test_encode_gbk_never_writes_four_byte_gb18030_sequences() -> None:
    out = charset.encode("张😀", "GBK")
    assert out == "张".encode("gbk") + b"&#128512;"
    assert out.decode("gbk")       # a plain GBK decoder reads it
    assert charset.encode("张😀", "GB2312") == out
    # GB18030 callers can take the four-byte form
    assert charset.encode("张😀", "GB18030") == "张😀".encode("gb18030")


def test_canonical_label() -> None:
    assert charset.canonical_label("utf8") == "UTF-8"
    assert charset.canonical_label(" gbk ") == "GBK"
    assert charset.canonical_label("gb2312") == "GB2312"


def test_xml_declared() -> None:
    assert charset.xml_declared(b'<?xml version="1.0" encoding="GB18030"?><r/>') == "GB18030"
    assert charset.xml_declared(b"  <?xml version='1.0' encoding='gbk'?><r/>") == "gbk"
    assert charset.xml_declared(b'<?xml version="1.0"?><r/>') is None
    assert charset.xml_declared(b"<r/>") is None


def test_xml_reply_uses_the_callers_charset() -> None:
    inb = XmlCodec().parse(GBK_DOC.encode("gbk"), "text/xml", None, ParseOptions())
    out = XmlCodec().render({"msg": "成功"}, inb, root="r", namespace=None)
    assert out.content_type == "text/xml; charset=GBK"
    assert out.body.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    assert "成功".encode("gbk") in out.body
