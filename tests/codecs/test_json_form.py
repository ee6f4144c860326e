"""JSON and form codecs: malformed input with positions, declared lists, GBK forms."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import quote

import orjson
import pytest

from bridge.codecs import jsoncodec
from bridge.codecs.base import ParseOptions
from bridge.codecs.form import FormCodec, parse_form
from bridge.codecs.jsoncodec import JsonCodec, list_fixer, loads
from bridge.errors import BadRequest, UnsupportedMediaType, UpstreamError


# -- JSON ----------------------------------------------------------------------------------------

def test_loads_keeps_json_types_and_order() -> None:
    tree = loads(b'{"z": 1, "a": [true, null, 1.5], "s": "x"}')
    assert tree == {"z": 1, "a": [True, None, 1.5], "s": "x"}
    assert list(tree) == ["z", "a", "s"]


@pytest.mark.parametrize("data, line, col", [
    (b'{"a": 1,\n "b": }', 2, 7),
    (b'{"a": 1', 1, 8),
    (b"\n\n  [1, 2,, 3]", 3, 9),
])
def test_malformed_json_names_line_and_column(data: bytes, line: int, col: int) -> None:
    with pytest.raises(BadRequest) as info:
        loads(data)
    err = info.value
    assert err.code == "malformed_json" and err.status == 400
    assert err.detail == {"line": line, "column": col}
    assert err.message.startswith(f"malformed JSON at line {line}, column {col}: ")


def test_empty_json_body_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        loads(b"")


def test_gbk_json() -> None:
    data = '{"name": "张三"}'.encode("gbk")
    assert loads(data, "GBK") == {"name": "张三"}
    with pytest.raises(BadRequest):        # the same bytes are not UTF-8
        loads(data)
    with pytest.raises(UnsupportedMediaType):
        loads(b"{}", "klingon")


def test_json_codec_parse_strips_bom_and_echoes_charset() -> None:
    codec = JsonCodec()
    inb = codec.parse(b'\xef\xbb\xbf{"a": 1}', "application/json", None, ParseOptions())
    assert inb.doc == {"a": 1} and inb.charset == "UTF-8"
    inb = codec.parse('{"a": "张"}'.encode("gbk"), "application/json", "gbk", ParseOptions())
    assert inb.charset == "GBK"
    out = codec.render({"msg": "成功"}, inb, root="x", namespace=None)
    assert out.content_type == "application/json; charset=gbk"
    assert out.body.decode("gbk") == '{"msg":"成功"}'


def test_json_codec_default_error_body() -> None:
    codec = JsonCodec()
    inb = codec.bare("application/json")
    out = codec.render_error(UpstreamError("target down"), inb, tree=None, root=None, namespace=None)
    assert out.status == 502
    assert orjson.loads(out.body) == {"error": {"status": 502, "code": "upstream_error",
                                                "message": "target down"}}


def test_dumps_non_string_keys() -> None:
    assert jsoncodec.dumps({1: "a"}) == b'{"1":"a"}'


def test_list_fixer_one_zero_many() -> None:
    fix = list_fixer(["items", "data.rows", "data.rows.tags"])
    assert fix({"items": {"id": 1}}) == {"items": [{"id": 1}]}
    assert fix({"items": [1, 2]}) == {"items": [1, 2]}
    assert fix({"items": None}) == {"items": []}
    assert fix({"items": ""}) == {"items": []}
    assert fix({"other": 1}) == {"other": 1, "items": []}
    tree = fix({"data": {"rows": {"tags": "a"}}})
    assert tree == {"data": {"rows": [{"tags": ["a"]}]}, "items": []}
    # through a list: every item gets the rule
    tree = fix({"items": [], "data": {"rows": [{"tags": "a"}, {"tags": ["b", "c"]}, {}]}})
    assert tree["data"]["rows"] == [{"tags": ["a"]}, {"tags": ["b", "c"]}, {"tags": []}]


def test_json_decoder_applies_declared_lists() -> None:
    codec = JsonCodec()
    inb = codec.parse(b'{"method": "X", "data": {"rows": {"id": 1}}}', "application/json", None,
                      ParseOptions())
    tree, root = codec.decoder(SimpleNamespace(lists=["data.rows"]), 100)(inb)
    assert tree == {"method": "X", "data": {"rows": [{"id": 1}]}} and root is None


# -- form ----------------------------------------------------------------------------------------

def test_form_repeated_keys_become_lists_in_order() -> None:
    assert parse_form(b"a=1&b=x&a=2&a=3&e=", "utf-8") == {"a": ["1", "2", "3"], "b": "x", "e": ""}


def test_form_percent_and_plus_decoding() -> None:
    assert parse_form(b"q=a+b%26c&sign=A%2BB%3D", "utf-8") == {"q": "a b&c", "sign": "A+B="}


def test_form_gbk_percent_encoding() -> None:
    body = ("name=" + quote("张三", encoding="gbk") + "&dept=" + quote("内科", encoding="gbk")).encode()
    assert parse_form(body, "GBK") == {"name": "张三", "dept": "内科"}
    assert parse_form(body, "gb18030") == {"name": "张三", "dept": "内科"}


def test_form_raw_gbk_bytes() -> None:
    assert parse_form("name=张三&a=1".encode("gbk"), "GBK") == {"name": "张三", "a": "1"}


def test_form_utf8_percent_encoding() -> None:
    assert parse_form(("name=" + quote("张三")).encode(), "utf-8") == {"name": "张三"}


def test_form_bad_percent_bytes_are_a_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        parse_form(b"name=%FF%FE", "utf-8")
    assert info.value.code == "malformed_form"


def test_form_codec_parse_and_decode() -> None:
    codec = FormCodec()
    body = ("method=XKH073&name=" + quote("张三", encoding="gbk") + "&item=1").encode()
    inb = codec.parse(body, "application/x-www-form-urlencoded", "gbk", ParseOptions())
    assert inb.charset == "GBK" and inb.media_type == "application/json"
    tree, _ = codec.decoder(SimpleNamespace(lists=["item"]), 100)(inb)
    assert tree == {"method": "XKH073", "name": "张三", "item": ["1"]}
    # the route's charset when the Content-Type names none
    inb = codec.parse(body, "application/x-www-form-urlencoded", None, ParseOptions(route_charset="gbk"))
    assert inb.doc["name"] == "张三"
