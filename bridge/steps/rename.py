"""``rename``: rename keys by an explicit map and/or a glossary file.

Seed platforms name fields in pinyin initials (``fqyydm``); a glossary (a flat YAML mapping
``old: new`` kept in ``transforms/glossary/``) is the integrator's dictionary, written once and
used both ways (``reverse: true`` for replies going back to the legacy side).
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import Field, model_validator

from bridge.message import Message
from bridge.paths import Path
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, as_list
from bridge.types import KeyMap, Step, Tree


class RenameConfig(StepConfig):
    map: dict[str, str] = Field(default_factory=dict, description="old: new, applied after the "
                                                                  "glossary (wins over it)")
    glossary: str | None = Field(None, description="flat YAML mapping old: new, relative to "
                                                   "routes.yaml")
    reverse: bool = Field(False, description="use the glossary backwards (new -> old)")
    paths: list[PathText] = Field(default_factory=list, description=(
        "rename only inside these subtrees (default: the whole body)"))

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "paths" in raw:
            raw = {**raw, "paths": as_list(raw["paths"])}
        return raw

    @model_validator(mode="after")
    def _something(self) -> "RenameConfig":
        if not self.map and not self.glossary:
            raise ValueError("rename needs map, glossary, or both")
        if self.reverse and not self.glossary:
            raise ValueError("reverse applies to a glossary; write the map the way you want it")
        return self


class _NamesLoader(yaml.SafeLoader):
    """Every plain scalar is a string: field names ``no``, ``y``, ``1`` or ``null`` are names,
    not booleans, numbers or nulls (and ``1:`` and ``true:`` stay two different keys)."""


_NamesLoader.yaml_implicit_resolvers = {}


def load_glossary(path: Any, reverse: bool) -> dict[str, str]:
    """Read and check a glossary; ValueError (reported at the step) when it cannot be used."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_NamesLoader)  # noqa: S506
    except FileNotFoundError:
        raise ValueError(f"glossary not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"glossary {path}: cannot read: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"glossary {path}: expected a flat mapping old: new")
    pairs: dict[str, str] = {}
    for old, new in data.items():
        if not isinstance(old, str) or not isinstance(new, str) or not new:
            raise ValueError(f"glossary {path}: {old}: the new name must be a non-empty "
                             "plain string")
        pairs[old] = new
    if not reverse:
        return pairs
    back: dict[str, str] = {}
    for old, new in pairs.items():
        if new in back:
            raise ValueError(f"glossary {path}: {new!r} is the new name of both {back[new]!r} "
                             f"and {old!r}, so reverse is ambiguous")
        back[new] = old
    return back


def _same(key: str) -> str:
    return key


class Rename:
    __slots__ = ("names", "paths")

    def __init__(self, names: dict[str, str], paths: list[Path]) -> None:
        self.names = names
        self.paths = paths

    def tree(self, node: Tree) -> Tree:
        cls = node.__class__
        if cls is dict:
            get, tree = self.names.get, self.tree
            # leaves (most values) are kept as they are, without a call per value
            return {get(k, k): (v if v.__class__ is str else tree(v))
                    for k, v in node.items()}  # type: ignore[union-attr]
        if cls is list:
            return [self.tree(v) for v in node]  # type: ignore[union-attr]
        if isinstance(node, dict):       # dict subclasses
            return {self.names.get(k, k): self.tree(v) for k, v in node.items()}
        return node

    def key_function(self) -> KeyMap | None:
        """Renaming every key of the whole body and nothing else: what a decoder can do while
        it builds the tree (see bridge.runtime); None when limited to paths."""
        if self.paths:
            return None
        return KeyMap(self.names, _same)

    def __call__(self, msg: Message) -> Message:
        if not self.paths:
            msg.body = self.tree(msg.body)
        else:
            for path in self.paths:
                path.update(msg.body, self.tree)
        return msg


@register_step("rename", RenameConfig, examples=[
    Example(title="a glossary of pinyin-initial names (seed 001), lists included",
            config={"glossary": "transforms/glossary/referral.yaml"},
            input={"orderid": "c8e72a5f9670", "hzxm": "张三",
                   "bespeak": [{"ghdh": "G1", "yyrq": "20240801"}]},
            output={"order_id": "c8e72a5f9670", "patient_name": "张三",
                    "bookings": [{"registration_no": "G1", "booking_date": "20240801"}]}),
    Example(title="the same glossary backwards, for the reply to the legacy side",
            config={"glossary": "transforms/glossary/referral.yaml", "reverse": True},
            input={"order_id": "c8e72a5f9670", "unknown": 1},
            output={"orderid": "c8e72a5f9670", "unknown": 1}),
    Example(title="an inline map limited to one subtree",
            config={"map": {"code": "statusCode"}, "paths": ["head"]},
            input={"head": {"code": 1}, "data": {"code": "x"}},
            output={"head": {"statusCode": 1}, "data": {"code": "x"}}),
])
def build(cfg: RenameConfig, ctx: BuildContext) -> Step:
    """Rename keys anywhere in the tree by a map and/or a glossary file (old: new)."""
    names: dict[str, str] = {}
    if cfg.glossary:
        names.update(load_glossary(ctx.resolve(cfg.glossary), cfg.reverse))
    names.update(cfg.map)
    return Rename(names, [Path(p) for p in cfg.paths])
