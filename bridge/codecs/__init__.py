"""Inbound codecs by format name; outbound encoding lives with the HTTP connector."""

from __future__ import annotations

from bridge.codecs.base import InboundCodec
from bridge.codecs.form import FormCodec
from bridge.codecs.jsoncodec import JsonCodec
from bridge.codecs.soap import SoapCodec
from bridge.codecs.xml import XmlCodec

CODECS: dict[str, InboundCodec] = {c.name: c for c in (XmlCodec(), SoapCodec(), JsonCodec(), FormCodec())}
