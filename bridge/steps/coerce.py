"""``coerce``: give values the type a target expects (XML carries only strings).

A value that cannot be converted is the caller's error (422) naming the field and the value.
Null and ``""`` are left unchanged: absence is ``require``'s business, not a type error.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, Literal

from pydantic import Field, RootModel

from bridge.errors import ValidationFailed
from bridge.paths import Path
from bridge.placeholders import fmt
from bridge.registry import BuildContext, Example, register_step
from bridge.steps._common import PathText, each_scalar, UpdateFields
from bridge.types import Step

TypeName = Literal["int", "float", "bool", "str"]

_TRUE = frozenset({"1", "true", "yes", "y"})
_FALSE = frozenset({"0", "false", "no", "n"})


class CoerceConfig(RootModel[Annotated[dict[PathText, TypeName], Field(min_length=1)]]):
    """path: int | float | bool | str."""


def to_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise ValueError
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s)
        except ValueError:
            d = Decimal(s)  # "3.0" from a legacy system is still 3; "3.5" is not an int
            if d.is_finite() and d == d.to_integral_value():
                return int(d)
    raise ValueError


def to_float(v: Any) -> float:
    if isinstance(v, bool) or isinstance(v, (dict, list)):
        raise ValueError
    f = float(v.strip() if isinstance(v, str) else v)
    if not math.isfinite(f):  # JSON has no NaN/Infinity
        raise ValueError
    return f


def to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise ValueError


def to_str(v: Any) -> str:
    if isinstance(v, (dict, list)):
        raise ValueError
    return fmt(v)


CONVERT: dict[str, Callable[[Any], Any]] = {"int": to_int, "float": to_float, "bool": to_bool,
                                            "str": to_str}


def converter(path: str, type_name: str) -> Callable[[Any], Any]:
    fn = CONVERT[type_name]
    article = "an" if type_name == "int" else "a"

    def apply(value: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return fn(value)
        except (ValueError, TypeError, InvalidOperation, OverflowError):
            raise ValidationFailed(f"coerce: {path}: {value!r} is not {article} {type_name}",
                                   detail={"field": path, "expected": type_name}) from None

    return apply


@register_step("coerce", CoerceConfig, examples=[
    Example(title="strings from XML to JSON types",
            config={"age": "int", "fee": "float", "fasting": "bool", "code": "str",
                    "bookings.quantity": "int"},
            input={"age": "41", "fee": " 12.50", "fasting": "Y", "code": 7,
                   "bookings": [{"quantity": "20"}, {"quantity": ""}]},
            output={"age": 41, "fee": 12.5, "fasting": True, "code": "7",
                    "bookings": [{"quantity": 20}, {"quantity": ""}]}),
    Example(title="a value that is not a number is the caller's error",
            config={"age": "int"}, input={"age": "abc"}, error="ValidationFailed"),
])
def build(cfg: CoerceConfig, ctx: BuildContext) -> Step:
    """Convert values at paths to int, float, bool or str; null and "" are left unchanged."""
    return UpdateFields([(Path(p), each_scalar(converter(p, t), skip_dicts=False))
                   for p, t in cfg.root.items()])
