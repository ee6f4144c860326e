"""``python``: the integrator's own function, for what no built-in step expresses.

The function lives in the integrator's ``transforms/`` package next to routes.yaml; it takes the
Message (plus ``args`` as keyword arguments) and returns it. It is imported and its signature
checked when the config loads, so a typo fails ``bridge check``, not the first request.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, Callable

from pydantic import Field, model_validator

from bridge.errors import StepFailed
from bridge.message import Message
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.types import Step


class PythonConfig(StepConfig):
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
                          description="module:function, e.g. transforms.referral:fix_codes")
    args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return {"function": raw} if isinstance(raw, str) else raw


def load(spec: str, base_dir: Any) -> Callable[..., Any]:
    """Import ``module:attr`` with the config's directory first on sys.path."""
    base = str(base_dir)
    if base not in sys.path:
        sys.path.insert(0, base)
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"python: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"python: {module_name!r} has no {attr!r}") from None
    if not callable(obj):
        raise ValueError(f"python: {spec} is not a function")
    return obj  # type: ignore[no-any-return]


class Call:
    __slots__ = ("fn", "args", "name")

    def __init__(self, fn: Callable[..., Any], args: dict[str, Any], name: str) -> None:
        self.fn = fn
        self.args = args
        self.name = name

    def __call__(self, msg: Message) -> Message:
        out = self.fn(msg, **self.args)
        if out is None:  # changed in place and forgot the return: harmless, accept it
            return msg
        if not isinstance(out, Message):
            raise StepFailed(f"python: {self.name} returned {type(out).__name__}, not a Message")
        return out


@register_step("python", PythonConfig, examples=[
    Example(title="a function without arguments",
            config="transforms.examples:count_bookings",
            input={"order_id": "A1", "bookings": [{"id": 1}, {"id": 2}]},
            output={"order_id": "A1", "bookings": [{"id": 1}, {"id": 2}], "booking_count": 2}),
    Example(title="a function with arguments",
            config={"function": "transforms.examples:join_fields",
                    "args": {"fields": ["start_time", "end_time"], "into": "time_range",
                             "sep": "-"}},
            input={"start_time": "08:00", "end_time": "08:30"},
            output={"start_time": "08:00", "end_time": "08:30", "time_range": "08:00-08:30"}),
])
def build(cfg: PythonConfig, ctx: BuildContext) -> Step:
    """Call an integrator's function Message -> Message (imported when the config loads)."""
    fn = load(cfg.function, ctx.base_dir)
    try:
        inspect.signature(fn).bind(None, **cfg.args)
    except TypeError as exc:
        raise ValueError(f"python: {cfg.function} does not accept these args: {exc}") from None
    except ValueError:  # builtins without a signature: nothing to check
        pass
    return Call(fn, dict(cfg.args), cfg.function)
