"""Charset resolution for legacy callers: GBK, GB2312, GB18030 and UTF-8.

Order (DESIGN §4): Content-Type charset, then the XML declaration, then a BOM, then the route's
``charset``. The label the caller used is kept so the reply is declared the same way.
GBK and GB2312 are decoded as GB18030, their superset: legacy systems that declare GB2312 send
GBK characters all the time.
"""

from __future__ import annotations

import codecs
import functools
import re

from bridge.errors import BadRequest, UnsupportedMediaType

_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
# UTF-16/32 are named so that they are refused (415) rather than left to lxml's own sniffing,
# which would parse them even though UTF-8 and the GB family are all bridge takes (DESIGN §4).
# UTF-32-LE's BOM starts with UTF-16-LE's: longest first.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
         (b"<\x00", "utf-16"), (b"\x00<", "utf-16"))   # BOM-less UTF-16: '<' and a NUL
_GB = {"gbk", "gb2312", "gb18030", "cp936", "x-gbk", "euc-cn", "gb_2312-80", "ms936", "windows-936"}


@functools.lru_cache(maxsize=256)   # on every request; callers send the same few labels
def python_codec(label: str) -> str:
    """The Python codec that reads ``label``; raise 415 for charsets we do not take."""
    low = label.strip().lower()
    if low in ("utf-8", "utf8"):
        return "utf-8"
    if low in _GB:
        return "gb18030"
    try:
        name = codecs.lookup(low).name
    except LookupError:
        raise UnsupportedMediaType(f"unsupported charset {label!r}") from None
    if name.startswith(("utf-16", "utf-32")):
        raise UnsupportedMediaType(f"unsupported charset {label!r}: use UTF-8, GBK or GB18030")
    return name


@functools.lru_cache(maxsize=256)
def canonical_label(label: str) -> str:
    """The label written back in the reply's declaration and Content-Type."""
    low = label.strip().lower()
    if low in ("utf-8", "utf8"):
        return "UTF-8"
    return label.strip().upper()


def xml_declared(data: bytes) -> str | None:
    m = _DECL.match(data[:256])
    return m.group(1).decode("ascii") if m else None


def resolve(data: bytes, header_charset: str | None, route_charset: str, *, xml: bool) -> str:
    """The caller's charset label for this body."""
    if header_charset:
        return header_charset
    if xml:
        declared = xml_declared(data)
        if declared:
            return declared
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return "utf-8" if route_charset == "auto" else route_charset


def decode(data: bytes, label: str) -> str:
    """Bytes to text, strict: bad bytes are the caller's error, reported with their offset."""
    name = python_codec(label)
    try:
        text = data.decode(name)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadRequest(
            f"body is not valid {canonical_label(label)}: bad byte at offset {exc.start} (line {line})",
            code="bad_charset") from None
    return text[1:] if text.startswith("\ufeff") else text


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@functools.lru_cache(maxsize=4096)
def encode(text: str, label: str) -> bytes:
    """Text to the caller's charset; characters it cannot hold become character references.

    Reading is lenient (GB2312 and GBK as GB18030), writing is strict: a GB2312 caller gets only
    GB2312 bytes and a GBK caller only GBK bytes, so its own decoder never chokes on our reply.
    """
    low = label.strip().lower()
    name = _STRICT_GB.get(low) or python_codec(label)
    return text.encode(name, errors="xmlcharrefreplace")


_STRICT_GB = {"gb2312": "gb2312", "euc-cn": "gb2312", "gb_2312-80": "gb2312", "gbk": "gbk",
              "cp936": "gbk", "x-gbk": "gbk", "ms936": "gbk", "windows-936": "gbk"}


def split_content_type(raw: str) -> tuple[str, str | None]:
    """``text/xml; charset="GBK"`` -> (``text/xml``, ``GBK``)."""
    media, _, params = raw.partition(";")
    charset = None
    if params:
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"').strip("'") or None
    return media.strip().lower(), charset


_CONTENT_TYPES: dict[str, tuple[str, str | None]] = {}


def content_type_parts(raw: str) -> tuple[str, str | None]:
    """split_content_type, remembered: a caller sends the same Content-Type every time."""
    parts = _CONTENT_TYPES.get(raw)
    if parts is None:
        parts = split_content_type(raw)
        if len(_CONTENT_TYPES) < 1024:
            _CONTENT_TYPES[raw] = parts
    return parts
