"""Property: an inbound codec given any bytes either parses them or raises its own error type
(a BridgeError subclass), never anything else: not an lxml, Unicode, orjson or Recursion error
(those would be a 500 with a stack trace in the log). Through ``codec.parse`` with every charset
label we accept and the route decoders, on random bytes and on mutations of real samples."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.codecs import CODECS, charset
from bridge.codecs.base import ParseOptions
from bridge.errors import BridgeError

from tests.property.strategies import mutated

SAMPLES = Path(__file__).resolve().parents[1] / "routes" / "samples"
HOSTILE = Path(__file__).resolve().parents[1] / "hostile" / "corpus"
LABELS = [None, "utf-8", "gbk", "gb18030", "gb2312"]
MEDIA = {"xml": ["application/xml", "text/xml", ""], "soap": ["text/xml", "application/soap+xml"],
         "json": ["application/json", ""], "form": ["application/x-www-form-urlencoded"]}
SEEDS = {
    "xml": [(SAMPLES / "referral.xml").read_bytes(), (SAMPLES / "referral-push-two.xml").read_bytes(),
            (HOSTILE / "invalid-gbk.xml").read_bytes()],
    "soap": [(SAMPLES / "registration-confirm.xml").read_bytes(),
             (SAMPLES / "registration-payment-cdata.xml").read_bytes()],
    "json": [(SAMPLES / "exam-query.json").read_bytes(), (SAMPLES / "alihealth-serviceinfo.json").read_bytes()],
    "form": ["a=1&b=%E6%B5%8B&b=2&c=".encode(), "x=%D6%D0%CE%C4&y=%zz&&=".encode()],
}
#: How routes decode: plain, with declared lists, and (SOAP) with a string parameter.
CONFIGS = [SimpleNamespace(lists=[], soap=None, recover=False),
           SimpleNamespace(lists=["bespeak", "Request.Record"], soap=None, recover=True),
           SimpleNamespace(lists=[], soap=SimpleNamespace(param="xml"), recover=True)]


def bodies(fmt: str) -> Any:
    return st.one_of(st.binary(max_size=200), st.sampled_from(SEEDS[fmt]).flatmap(mutated))


def parse_and_decode(fmt: str, data: bytes, media: str, label: str | None, recover: bool,
                     max_depth: int) -> None:
    codec = CODECS[fmt]
    opts = ParseOptions("auto", recover, max_depth)
    try:
        inb = codec.parse(data, media, label, opts)
        for cfg in CONFIGS:
            if cfg.soap is not None and fmt != "soap":
                continue
            try:
                codec.decoder(cfg, max_depth)(inb)
            except BridgeError:
                pass
    except BridgeError as exc:
        assert exc.status < 500, exc                 # the caller's error, not ours
        assert exc.message


def check(fmt: str) -> Any:
    @settings(max_examples=200)   # cheap per example: a wider search for the same time
    @given(data=bodies(fmt), media=st.sampled_from(MEDIA[fmt]), label=st.sampled_from(LABELS),
           recover=st.booleans(), max_depth=st.sampled_from([4, 100]))
    def run(data: bytes, media: str, label: str | None, recover: bool, max_depth: int) -> None:
        parse_and_decode(fmt, data, media, label, recover, max_depth)
    return run


test_xml_parse_raises_only_bridge_errors = check("xml")
test_soap_parse_raises_only_bridge_errors = check("soap")
test_json_parse_raises_only_bridge_errors = check("json")
test_form_parse_raises_only_bridge_errors = check("form")


@given(data=st.binary(max_size=300), label=st.sampled_from(LABELS[1:]))
def test_charset_decode_raises_only_bridge_errors(data: bytes, label: str) -> None:
    try:
        text = charset.decode(data, label)
    except BridgeError as exc:
        assert exc.code == "bad_charset"
    else:
        assert isinstance(text, str)


@given(data=st.binary(max_size=300), header=st.sampled_from(LABELS), route=st.sampled_from(["auto", "gbk"]))
def test_charset_resolution_always_names_a_label(data: bytes, header: str | None, route: str) -> None:
    label = charset.resolve(data, header, route, xml=True)
    assert label
    try:
        charset.python_codec(label)
    except BridgeError as exc:
        assert exc.status == 415
