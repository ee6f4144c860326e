"""``case``: re-case every key of the body (``snake``, ``camel``, ``pascal``, ``upper``, ...).

Legacy platforms name the same field ``medRecNO``, ``MedRecNO`` or ``MEDRECNO`` depending on the
vendor (seed 002); routes normalise to snake_case on the way in and back to the vendor's style on
the way out. Splitting is acronym-aware (``IDCode`` -> ``id_code``); joining is not, so the way
back to ``medRecNO`` is declared in ``exceptions``.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable, Literal

from pydantic import Field, model_validator

from bridge.message import Message
from bridge.paths import Path
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import KeyTrie, PathText, as_list, key_trie
from bridge.types import KeyMap, Step, Tree

Style = Literal["snake", "camel", "pascal", "upper", "kebab", "upper_flat"]

# An upper-case run not followed by a lower-case letter (ID, NO, XML before Http), a word with
# an optional capital (Code, rec), or digits with a lower-case tail (2nd).
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+[a-z]*")
_EDGE = re.compile(r"^([^A-Za-z0-9]*)(.*?)([^A-Za-z0-9]*)$", re.S)
_MEMO_LIMIT = 10_000  # keys come from callers: bound what one step instance remembers


def words(text: str) -> list[str]:
    """Lower-case words of a key in any style; digits stay with the word before them."""
    out: list[str] = []
    for w in _WORD.findall(text):
        if w[0].isdigit() and out:
            out[-1] += w
        else:
            out.append(w.lower())
    return out


def _cap(w: str) -> str:
    return w[:1].upper() + w[1:]


JOIN: dict[str, Callable[[list[str]], str]] = {
    "snake": "_".join,
    "kebab": "-".join,
    "upper": lambda ws: "_".join(ws).upper(),
    "upper_flat": lambda ws: "".join(ws).upper(),
    "camel": lambda ws: ws[0] + "".join(_cap(w) for w in ws[1:]) if ws else "",
    "pascal": lambda ws: "".join(_cap(w) for w in ws),
}


def convert(key: str, style: str) -> str:
    """One key in ``style``; ``@attr``/``#x`` prefixes kept, ``#text`` and non-ASCII untouched."""
    if key == "#text" or not key.isascii():
        return key
    m = _EDGE.match(key)
    assert m is not None
    head, middle, tail = m.groups()
    ws = words(middle)
    if not ws:
        return key
    return head + JOIN[style](ws) + tail


class CaseConfig(StepConfig):
    to: Style = Field(description="target style; upper is UPPER_SNAKE, upper_flat is UPPERCASE "
                                  "with no separators (MEDRECNO)")
    exceptions: dict[str, str] = Field(default_factory=dict, description=(
        "source key (or its snake_case form) -> exact target key, e.g. med_rec_no: medRecNO"))
    keep: list[PathText] = Field(default_factory=list, description=(
        "subtrees left alone: the key at the path is converted, its contents are not"))
    paths: list[PathText] = Field(default_factory=list, description=(
        "convert only inside these subtrees (default: the whole body)"))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return {"to": raw}
        if isinstance(raw, dict):
            raw = dict(raw)
            for k in ("keep", "paths"):
                if k in raw:
                    raw[k] = as_list(raw[k])
        return raw


class Recase:
    """Rebuilds dicts with converted keys, preserving order; memoizes each key once."""

    __slots__ = ("style", "exceptions", "memo", "keep", "paths")

    def __init__(self, cfg: CaseConfig) -> None:
        self.style = cfg.to
        self.exceptions = dict(cfg.exceptions)
        self.memo: dict[str, str] = {}
        self.keep: KeyTrie | None = key_trie(cfg.keep) or None
        self.paths = [Path(p) for p in cfg.paths]

    def key(self, key: str) -> str:
        out = self.memo.get(key)
        if out is not None:
            return out
        out = self.exceptions.get(key)
        if out is None:
            snake = convert(key, "snake")
            out = self.exceptions.get(snake)
            if out is None:
                out = snake if self.style == "snake" else convert(key, self.style)
        if len(self.memo) < _MEMO_LIMIT:
            self.memo[key] = out
        return out

    def key_function(self) -> KeyMap | None:
        """Converting every key of the whole body and nothing else: what a decoder can do while
        it builds the tree (see bridge.runtime); None with keep: or paths:."""
        if self.paths or self.keep is not None:
            return None
        return KeyMap({}, self.key, _MEMO_LIMIT)

    def tree(self, node: Tree, keep: KeyTrie | None) -> Tree:
        if isinstance(node, dict):
            if keep is None:
                memo = self.memo  # the hot path: one dict lookup per key once warm
                return {(memo.get(k) or self.key(k)): self.tree(v, None) for k, v in node.items()}
            out: dict[str, Any] = {}
            for k, v in node.items():
                nk = self.key(k)
                sub = keep.get(k, keep.get(nk, {}))
                out[nk] = v if sub is None else self.tree(v, sub or None)
            return out
        if isinstance(node, list):
            return [self.tree(v, keep) for v in node]
        return node

    def __call__(self, msg: Message) -> Message:
        if not self.paths:
            msg.body = self.tree(msg.body, self.keep)
            return msg
        for path in self.paths:
            keep = _descend(self.keep, path.parts)
            if keep is not _KEPT:
                path.update(msg.body, partial(self.tree, keep=keep))
        return msg


_KEPT: Any = object()


def _descend(trie: KeyTrie | None, parts: tuple[str, ...]) -> Any:
    """The keep-trie node at ``parts`` (``_KEPT`` when a keep path covers it entirely)."""
    for part in parts:
        if trie is None:
            return None
        if part not in trie:
            return None
        nxt = trie[part]
        if nxt is None:
            return _KEPT
        trie = nxt
    return trie


@register_step("case", CaseConfig, examples=[
    Example(title="snake_case everything, acronyms split sensibly",
            config="snake",
            input={"placerOrderNO": "2024080980007", "organizationID": "00",
                   "PatientInfo": {"IDCode": "330682", "medRecNO": "330682"}},
            output={"placer_order_no": "2024080980007", "organization_id": "00",
                    "patient_info": {"id_code": "330682", "med_rec_no": "330682"}}),
    Example(title="back to the vendor's camelCase, acronyms declared in exceptions",
            config={"to": "camel", "exceptions": {"med_rec_no": "medRecNO",
                                                  "organization_id": "organizationID"}},
            input={"med_rec_no": "1", "organization_id": "00", "patient_class": "门诊"},
            output={"medRecNO": "1", "organizationID": "00", "patientClass": "门诊"}),
    Example(title="XML attributes keep their @; a kept subtree is passed through",
            config={"to": "upper", "keep": ["extra"]},
            input={"appt_id": {"@type_code": "A", "#text": "7"}, "extra": {"keepMe": 1}},
            output={"APPT_ID": {"@TYPE_CODE": "A", "#text": "7"}, "EXTRA": {"keepMe": 1}}),
])
def build(cfg: CaseConfig, ctx: BuildContext) -> Step:
    """Convert keys to one naming style (acronym-aware splitting, declared exceptions)."""
    return Recase(cfg)
