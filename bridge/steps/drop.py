"""``drop`` and ``keep``: remove fields, or keep only some.

``keep`` is the safe way to send a target only what its interface table lists: anything the
caller added stays behind. Keeping ``a.b`` keeps ``a`` with only ``b``; list items keep their
positions (an item without ``b`` becomes ``{}``), so indexes still line up.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, RootModel, field_validator

from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.registry import BuildContext, Example, register_step
from bridge.steps._common import KeyTrie, PathText, as_list, key_trie
from bridge.types import Step, Tree


class PathsConfig(RootModel[Annotated[list[PathText], Field(min_length=1)]]):
    """[path, ...] (a single path may be written without the list)."""

    @field_validator("root", mode="before")
    @classmethod
    def _one(cls, raw: Any) -> Any:
        return as_list(raw)


class Drop:
    __slots__ = ("paths",)

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __call__(self, msg: Message) -> Message:
        for path in self.paths:
            path.delete(msg.body)
        return msg


def prune(node: Tree, trie: KeyTrie) -> Any:
    """The part of ``node`` under ``trie``; MISSING when a scalar stands where a dict was meant."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k not in trie:
                continue
            sub = trie[k]
            if sub is None:
                out[k] = v
            else:
                kept = prune(v, sub)
                if kept is not MISSING:
                    out[k] = kept
        return out
    if isinstance(node, list):
        items = [prune(v, trie) for v in node]
        return [v for v in items if v is not MISSING]
    return MISSING


class Keep:
    __slots__ = ("trie",)

    def __init__(self, trie: KeyTrie) -> None:
        self.trie = trie

    def __call__(self, msg: Message) -> Message:
        kept = prune(msg.body, self.trie)
        if kept is not MISSING:
            msg.body = kept
        return msg


@register_step("drop", PathsConfig, examples=[
    Example(title="remove fields, on every list item too",
            config=["token", "bookings.rsid"],
            input={"order_id": "A1", "token": "t", "bookings": [{"rsid": 1, "id": 2}]},
            output={"order_id": "A1", "bookings": [{"id": 2}]}),
])
def build_drop(cfg: PathsConfig, ctx: BuildContext) -> Step:
    """Remove the fields at the given paths (absent ones are ignored)."""
    return Drop([Path(p) for p in cfg.root])


@register_step("keep", PathsConfig, examples=[
    Example(title="keep only what the target's interface lists",
            config=["order_id", "patient.name", "bookings.id"],
            input={"order_id": "A1", "token": "t",
                   "patient": {"name": "张三", "id_no": "330682"},
                   "bookings": [{"id": 1, "rsid": 9}, {"rsid": 8}]},
            output={"order_id": "A1", "patient": {"name": "张三"},
                    "bookings": [{"id": 1}, {}]}),
])
def build_keep(cfg: PathsConfig, ctx: BuildContext) -> Step:
    """Keep only the fields at the given paths; everything else is removed."""
    return Keep(key_trie(cfg.root))
