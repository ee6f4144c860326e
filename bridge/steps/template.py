"""``template``: build a new body from a tree whose string leaves may hold ``{placeholders}``.

Typical in replies: shape the target's answer into what the legacy caller expects, reading the
upstream body (``{data.code}``), the caller's request (``{request.x}``) and ``meta``.
"""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from bridge.message import Message
from bridge.paths import MISSING
from bridge.placeholders import Render, compile_tree
from bridge.registry import BuildContext, Example, register_step
from bridge.types import Step


class TemplateConfig(RootModel[Any]):
    """The new body; string leaves may hold {placeholders}. A lone placeholder keeps its type."""


class Template:
    __slots__ = ("render",)

    def __init__(self, render: Render) -> None:
        self.render = render

    def __call__(self, msg: Message) -> Message:
        body = self.render(msg)
        msg.body = "" if body is MISSING else body
        return msg


@register_step("template", TemplateConfig, examples=[
    Example(title="a legacy reply built from the target's JSON answer",
            config={"parm": "referralCode={data.referral_code}&type={data.type}",
                    "result": "true", "bookings": "{data.bookings}"},
            input={"head": {"code": 1}, "data": {"referral_code": "R1", "type": "mz",
                                                "bookings": [{"id": 1}]}},
            output={"parm": "referralCode=R1&type=mz", "result": "true",
                    "bookings": [{"id": 1}]}),
])
def build(cfg: TemplateConfig, ctx: BuildContext) -> Step:
    """Replace the body with a template tree rendered against the message."""
    return Template(compile_tree(cfg.root))
