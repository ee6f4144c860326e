"""``wrap`` and ``unwrap``: put the body inside an envelope, or take it out of one.

Many platforms (seed 002) take a common header (``systemId``, ``method`` ...) with the payload
under ``data``, sometimes as a JSON string. ``unwrap`` is the reverse, and parses a string
payload (JSON or XML, sniffed) so the rest of the pipeline sees a tree.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field, model_validator

from bridge.errors import ValidationFailed
from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.placeholders import Render, compile_tree
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, as_list
from bridge.steps._parse import parse_json, parse_xml, sniff
from bridge.types import Step


class WrapConfig(StepConfig):
    into: str = Field(min_length=1, description="key that receives the old body")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description=(
        "envelope fields placed before it; string leaves may hold {placeholders}"))
    as_string: bool = Field(False, description="put the old body in as a compact JSON string")

    @model_validator(mode="after")
    def _no_clash(self) -> "WrapConfig":
        if self.into in self.with_:
            raise ValueError(f"with: {self.into!r} is also the into key")
        return self


class Wrap:
    __slots__ = ("into", "envelope", "as_string")

    def __init__(self, into: str, envelope: Render, as_string: bool) -> None:
        self.into = into
        self.envelope = envelope
        self.as_string = as_string

    def __call__(self, msg: Message) -> Message:
        out = self.envelope(msg)
        body = msg.body
        out[self.into] = orjson.dumps(body).decode() if self.as_string else body
        msg.body = out
        return msg


@register_step("wrap", WrapConfig, examples=[
    Example(title="the common request header of seed 002",
            config={"into": "data", "with": {"systemId": "{secrets.exam_system_id}",
                                             "businessType": "999", "method": "XKH073"}},
            input={"medRecNO": "430426201512190183", "days": "15"},
            output={"systemId": "S-1", "businessType": "999", "method": "XKH073",
                    "data": {"medRecNO": "430426201512190183", "days": "15"}},
            secrets={"exam_system_id": "S-1"}),
    Example(title="payload as a compact JSON string (non-ASCII kept)",
            config={"into": "data", "with": {"method": "XKH075"}, "as_string": True},
            input={"placerOrderNO": "2024080980007", "scheduleOperatorName": "毛炜"},
            output={"method": "XKH075",
                    "data": '{"placerOrderNO":"2024080980007","scheduleOperatorName":"毛炜"}'}),
])
def build_wrap(cfg: WrapConfig, ctx: BuildContext) -> Step:
    """Make the body a field of a new envelope (rendered header fields first)."""
    return Wrap(cfg.into, compile_tree(cfg.with_), cfg.as_string)


class UnwrapConfig(StepConfig):
    from_: PathText = Field(alias="from", description="path of the payload that becomes the body")
    lists: list[PathText] = Field(default_factory=list, description=(
        "for an XML payload: dotted paths that are always lists"))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return {"from": raw}
        if isinstance(raw, dict) and "lists" in raw:
            raw = {**raw, "lists": as_list(raw["lists"])}
        return raw


class Unwrap:
    __slots__ = ("path", "lists")

    def __init__(self, path: Path, lists: frozenset[tuple[str, ...]]) -> None:
        self.path = path
        self.lists = lists

    def __call__(self, msg: Message) -> Message:
        where = f"unwrap: {self.path.text}"
        value = self.path.get(msg.body)
        if value is MISSING:
            raise ValidationFailed(f"{where}: missing", detail={"field": self.path.text})
        if isinstance(value, str):
            kind = sniff(value)
            if kind == "json":
                value = parse_json(value, where)
            elif kind == "xml":
                msg.meta["root"], value = parse_xml(value, where, self.lists)
        msg.body = value
        return msg


@register_step("unwrap", UnwrapConfig, examples=[
    Example(title="the payload of a response envelope",
            config="data",
            input={"statusCode": "00000000", "data": {"resultCode": "Success"}},
            output={"resultCode": "Success"}),
    Example(title="a JSON document carried as a string",
            config={"from": "data"},
            input={"method": "XKH075", "data": '{"placerOrderNO": "2024080980007"}'},
            output={"placerOrderNO": "2024080980007"}),
    Example(title="an XML document carried as a string (root dropped, lists declared)",
            config={"from": "xml", "lists": ["Record"]},
            input={"xml": "<Request><Record><WorkId>7</WorkId></Record></Request>"},
            output={"Record": [{"WorkId": "7"}]}),
    Example(title="a payload that does not parse is a 422",
            config="data", input={"data": '{"broken": '}, error="ValidationFailed"),
])
def build_unwrap(cfg: UnwrapConfig, ctx: BuildContext) -> Step:
    """Make one field the new body; a JSON or XML string there is parsed."""
    return Unwrap(Path(cfg.from_), frozenset(tuple(p.split(".")) for p in cfg.lists))
