"""``set`` and ``default``: put values (templates allowed) at paths.

``set`` always writes; ``default`` writes only where the value is missing, null or ``""`` (what
an empty XML element decodes to), so it fills gaps without overriding what the caller sent.
Missing dicts on the way are created; a list on the way gets the value on every item.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import Field, RootModel

from bridge.message import Message
from bridge.paths import Path
from bridge.paths import MISSING
from bridge.placeholders import Render, compile_tree
from bridge.registry import BuildContext, Example, register_step
from bridge.steps._common import PathText, is_empty
from bridge.types import Step


class SetConfig(RootModel[Annotated[dict[PathText, Any], Field(min_length=1)]]):
    """path: value; string leaves of value may hold {placeholders}."""


class Assign:
    __slots__ = ("fields", "only_empty")

    def __init__(self, cfg: SetConfig, only_empty: bool) -> None:
        self.fields: list[tuple[Path, Render]] = [(Path(p), compile_tree(v))
                                                  for p, v in cfg.root.items()]
        self.only_empty = only_empty

    def __call__(self, msg: Message) -> Message:
        if msg.body is None or msg.body == "":
            msg.body = {}
        for path, render in self.fields:
            # Rendered once, from the body as it was before this field was written.
            value = render(msg)
            if value is MISSING:       # a lone placeholder that found nothing: left out
                continue
            key = path.key
            first = True
            for parent in path.parents(msg.body, create=True):
                if self.only_empty and not is_empty(parent.get(key)):
                    continue
                parent[key] = value if first or not isinstance(value, (dict, list)) \
                    else copy.deepcopy(value)
                first = False
        return msg


@register_step("set", SetConfig, examples=[
    Example(title="constants, secrets and values from the body",
            config={"method": "XKH073", "systemId": "{secrets.exam_system_id}",
                    "head.order": "{order_id}", "head.count": 2},
            input={"order_id": "A1"},
            output={"order_id": "A1", "method": "XKH073", "systemId": "S-1",
                    "head": {"order": "A1", "count": 2}},
            secrets={"exam_system_id": "S-1"}),
    Example(title="on every item of a list",
            config={"bookings.source": "web"},
            input={"bookings": [{"id": 1}, {"id": 2, "source": "app"}]},
            output={"bookings": [{"id": 1, "source": "web"}, {"id": 2, "source": "web"}]}),
])
def build_set(cfg: SetConfig, ctx: BuildContext) -> Step:
    """Set values at paths, always (missing dicts are created; templates allowed)."""
    return Assign(cfg, only_empty=False)


@register_step("default", SetConfig, examples=[
    Example(title="fill only what is missing, null or empty",
            config={"request_dept_id": "99", "request_dept_name": "全科", "days": "7"},
            input={"request_dept_id": "", "request_dept_name": None, "days": "15"},
            output={"request_dept_id": "99", "request_dept_name": "全科", "days": "15"}),
    Example(title="a default read from another field, per list item",
            config={"bookings.status": "{default_status}"},
            input={"default_status": "0", "bookings": [{"status": "1"}, {}]},
            output={"default_status": "0", "bookings": [{"status": "1"}, {"status": "0"}]}),
])
def build_default(cfg: SetConfig, ctx: BuildContext) -> Step:
    """Set values at paths only where missing, null or "" (templates allowed)."""
    return Assign(cfg, only_empty=True)
