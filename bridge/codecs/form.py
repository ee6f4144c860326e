"""application/x-www-form-urlencoded in (TOP-style gateways); answered in JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from bridge.codecs import charset
from bridge.codecs.base import Decoder, Inbound, ParseOptions
from bridge.codecs.jsoncodec import JsonCodec, list_fixer
from bridge.errors import BadRequest
from bridge.types import Tree


def parse_form(data: bytes, label: str) -> dict[str, Any]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = charset.decode(data, label)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset.python_codec(label),
                          errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"malformed form body: {exc}", code="malformed_form") from None
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # a repeated key becomes a list, appended to in place (linear, not quadratic)
            prev = out[key]
            if isinstance(prev, list):
                prev.append(value)
            else:
                out[key] = [prev, value]
        else:
            out[key] = value
    return out


class FormCodec(JsonCodec):
    """Decodes forms; replies and errors are JSON, what form-posting gateways expect back."""

    name = "form"

    def accepts(self, media_type: str) -> bool:
        return media_type in ("application/x-www-form-urlencoded", "")

    def bare(self, content_type: str) -> Inbound:
        return Inbound("form", "UTF-8", "application/json")

    def parse(self, data: bytes, media_type: str, header_charset: str | None,
              opts: ParseOptions) -> Inbound:
        label = header_charset or ("utf-8" if opts.route_charset == "auto" else opts.route_charset)
        return Inbound("form", charset.canonical_label(label), "application/json",
                       doc=parse_form(data, label))

    def decoder(self, inbound_cfg: Any, max_depth: int) -> Decoder:
        fix = list_fixer(inbound_cfg.lists) if inbound_cfg.lists else None

        def decode(inb: Inbound) -> tuple[Tree, str | None]:
            return (fix(inb.doc) if fix else inb.doc), None
        return decode
