"""``embed`` and ``extract``: a subtree <-> a serialized string field.

"Web Service + XML" and JSON-in-a-string interfaces carry a whole document in one string
parameter. ``embed`` serializes the subtree at ``path`` in place (JSON compact with non-ASCII
kept, or XML without a declaration); ``extract`` parses it back. Without ``path`` the whole body
is meant. Null, ``""`` and (for extract) values that are not strings are left unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import orjson
from pydantic import Field, model_validator

from bridge.errors import StepFailed
from bridge.message import Message
from bridge.paths import Path
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, as_list, is_empty
from bridge.steps._parse import parse_json, parse_xml
from bridge.types import Step, Tree


class EmbedConfig(StepConfig):
    path: PathText | None = Field(None, description="the subtree (default: the whole body)")
    format: Literal["json", "xml"] = Field("json", description="serialization")
    root: str | None = Field(None, description="XML root element name (embed, format xml)")
    namespace: str | None = Field(None, description="XML namespace applied to every element")
    lists: list[PathText] = Field(default_factory=list, description=(
        "extract, format xml: dotted paths that are always lists"))

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "lists" in raw:
            raw = {**raw, "lists": as_list(raw["lists"])}
        return raw


class InPlace:
    """Apply ``fn`` at ``path`` (every list item on the way), or to the whole body."""

    __slots__ = ("path", "fn")

    def __init__(self, path: Path | None, fn: Callable[[Any, Message], Any]) -> None:
        self.path = path
        self.fn = fn

    def __call__(self, msg: Message) -> Message:
        if self.path is None:
            msg.body = self.fn(msg.body, msg)
        else:
            self.path.update(msg.body, lambda v: self.fn(v, msg))
        return msg


def serializer(cfg: EmbedConfig) -> Callable[[Any, Message], Any]:
    where = f"embed: {cfg.path or 'body'}"
    if cfg.format == "json":
        def to_json(value: Tree, msg: Message) -> Any:
            return value if is_empty(value) else orjson.dumps(value).decode()
        return to_json

    from bridge.codecs.xmltree import tree_to_xml

    root = cfg.root or ""
    namespace = cfg.namespace

    def to_xml(value: Tree, msg: Message) -> Any:
        if is_empty(value):
            return value
        if not isinstance(value, dict):
            raise StepFailed(f"{where}: an XML document needs a mapping, not a "
                             f"{type(value).__name__}")
        return tree_to_xml(value, root, declaration=False, namespace=namespace).decode("utf-8")
    return to_xml


def parser(cfg: EmbedConfig) -> Callable[[Any, Message], Any]:
    where = f"extract: {cfg.path or 'body'}"
    lists = frozenset(tuple(p.split(".")) for p in cfg.lists)
    whole = cfg.path is None

    def parse(value: Any, msg: Message) -> Any:
        if not isinstance(value, str) or value == "":
            return value
        if cfg.format == "json":
            return parse_json(value, where)
        root, tree = parse_xml(value, where, lists)
        if whole:
            msg.meta["root"] = root
        return tree
    return parse


@register_step("embed", EmbedConfig, examples=[
    Example(title="a subtree as a JSON string",
            config={"path": "data", "format": "json"},
            input={"method": "XKH073", "data": {"days": "15", "patientClass": "门诊"}},
            output={"method": "XKH073", "data": '{"days":"15","patientClass":"门诊"}'}),
    Example(title="a subtree as an XML document string (Web Service + XML)",
            config={"path": "xml", "format": "xml", "root": "Request"},
            input={"xml": {"WorkId": "7", "Record": [{"a": "1"}, {"a": "2"}]}},
            output={"xml": "<Request><WorkId>7</WorkId><Record><a>1</a></Record>"
                           "<Record><a>2</a></Record></Request>"}),
])
def build_embed(cfg: EmbedConfig, ctx: BuildContext) -> Step:
    """Serialize the subtree at path (or the whole body) into a JSON or XML string."""
    if cfg.format == "xml" and not cfg.root:
        raise ValueError("embed: format xml needs root (the document's root element name)")
    return InPlace(Path(cfg.path) if cfg.path else None, serializer(cfg))


@register_step("extract", EmbedConfig, examples=[
    Example(title="a JSON string field parsed into a subtree",
            config={"path": "data", "format": "json"},
            input={"statusCode": "00000000", "data": '{"resultCode":"Success"}'},
            output={"statusCode": "00000000", "data": {"resultCode": "Success"}}),
    Example(title="an XML string field parsed (root dropped, lists declared)",
            config={"path": "return", "format": "xml", "lists": ["Record"]},
            input={"return": "<Response><Code>0</Code><Record><a>1</a></Record></Response>"},
            output={"return": {"Code": "0", "Record": [{"a": "1"}]}}),
    Example(title="a string that does not parse is a 422",
            config={"path": "data", "format": "xml"},
            input={"data": "<a><b></a>"}, error="ValidationFailed"),
])
def build_extract(cfg: EmbedConfig, ctx: BuildContext) -> Step:
    """Parse the JSON or XML string at path (or the whole body) into a subtree."""
    if cfg.root or cfg.namespace:
        raise ValueError("extract: root and namespace apply to embed only")
    return InPlace(Path(cfg.path) if cfg.path else None, parser(cfg))
