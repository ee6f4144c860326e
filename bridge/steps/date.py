"""``date``: reformat date strings (``20240816`` -> ``2024-08-16``).

Formats are checked when the config loads (a format that cannot read back what it writes is a
typo); a value that does not match is the caller's error, naming the field and the format.
"""

from __future__ import annotations

import re

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from bridge.errors import ValidationFailed
from bridge.paths import Path
from bridge.placeholders import fmt
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, as_list, each_scalar, is_empty, UpdateFields
from bridge.types import Step

_PROBE = datetime(2001, 12, 23, 14, 35, 56)


def _check_format(text: str) -> str:
    if "%" not in text:
        raise ValueError(f"{text!r} has no % directive (e.g. %Y%m%d)")
    try:
        datetime.strptime(_PROBE.strftime(text), text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a usable date format: {exc}") from None
    return text


class DateConfig(StepConfig):
    fields: list[PathText] = Field(min_length=1, description="paths of the date values")
    from_: list[str] = Field(alias="from", min_length=1, description=(
        "strptime format of the input; a list tries each in order"))
    to: str = Field(description="strftime format of the output")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            raw = dict(raw)
            for k in ("fields", "from"):
                if k in raw:
                    raw[k] = as_list(raw[k])
        return raw

    @field_validator("from_")
    @classmethod
    def _froms(cls, v: list[str]) -> list[str]:
        return [_check_format(f) for f in v]

    @field_validator("to")
    @classmethod
    def _to(cls, v: str) -> str:
        return _check_format(v)


_FIELDS = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})",
           "H": r"(?P<H>\d{2})", "M": r"(?P<M>\d{2})", "S": r"(?P<S>\d{2})"}
_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


def _fast(from_: str, to: str) -> Any:
    """For the formats HIS use (%Y %m %d %H %M %S and literal separators), a compiled regex and a
    str.format template: several times faster than strptime/strftime on every request. None when a
    format has anything else (strptime handles it)."""
    parts = re.split(r"(%.)", from_)
    to_parts = re.split(r"(%.)", to)
    directives = [p[1] for p in parts + to_parts if p.startswith("%")]
    if any(d not in _FIELDS for d in directives) or len(set(p for p in parts if p.startswith("%"))) != \
            len([p for p in parts if p.startswith("%")]):
        return None
    have = {p[1] for p in parts if p.startswith("%")}
    if not {p[1] for p in to_parts if p.startswith("%")} <= have:
        return None
    pattern = re.compile("".join(_FIELDS[p[1]] if p.startswith("%") else re.escape(p) for p in parts) + r"\Z")
    order = [p[1] for p in parts if p.startswith("%")]          # the groups, as they come
    template = "".join("{%d:0%dd}" % (order.index(p[1]), _WIDTH[p[1]]) if p.startswith("%") else
                       p.replace("{", "{{").replace("}", "}}") for p in to_parts)
    # datetime(Y, m, d, H, M, S) from the groups; a directive the input lacks takes its default
    defaults = {"Y": 1900, "m": 1, "d": 1, "H": 0, "M": 0, "S": 0}
    picks = [(order.index(d), 0) if d in order else (-1, defaults[d]) for d in "YmdHMS"]

    if all(i >= 0 for i, _ in picks[:3]) and all(i < 0 for i, _ in picks[3:]):
        iy, im, id_ = (i for i, _ in picks[:3])

        def make(values: tuple[int, ...]) -> Any:       # a date: year, month, day read
            return datetime(values[iy], values[im], values[id_])
    else:
        def make(values: tuple[int, ...]) -> Any:
            return datetime(*[values[i] if i >= 0 else default for i, default in picks])

    def convert(text: str) -> str | None:
        m = pattern.match(text)
        if m is None:
            return None
        values = tuple(map(int, m.groups()))
        try:  # validates the calendar: 20130230 is not a date
            make(values)
        except ValueError:
            return None
        return template.format(*values)
    return convert


def reformat(path: str, froms: list[str], to: str) -> Any:
    expected = " or ".join(froms)
    if len(froms) == 1 and (fast := _fast(froms[0], to)) is not None:
        def apply_fast(value: Any) -> Any:
            if value.__class__ is str:
                if not value:
                    return value
                out = fast(value.strip())
            elif is_empty(value):
                return value
            else:
                out = fast(fmt(value).strip())
            if out is None:
                raise ValidationFailed(f"date: {path}: {value!r} does not match {expected}",
                                       detail={"field": path, "expected": expected})
            return out
        return apply_fast

    def apply(value: Any) -> Any:
        if is_empty(value):
            return value
        text = fmt(value).strip()
        for f in froms:
            try:
                return datetime.strptime(text, f).strftime(to)
            except ValueError:
                continue
        raise ValidationFailed(f"date: {path}: {value!r} does not match {expected}",
                               detail={"field": path, "expected": expected})

    return apply


@register_step("date", DateConfig, examples=[
    Example(title="compact legacy dates to ISO, empty values left alone",
            config={"fields": ["birth_date", "bookings.booking_date"], "from": "%Y%m%d",
                    "to": "%Y-%m-%d"},
            input={"birth_date": "19820821",
                   "bookings": [{"booking_date": "20240816"}, {"booking_date": ""}]},
            output={"birth_date": "1982-08-21",
                    "bookings": [{"booking_date": "2024-08-16"}, {"booking_date": ""}]}),
    Example(title="several accepted input formats",
            config={"fields": ["start"], "from": ["%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"],
                    "to": "%Y%m%d%H%M%S"},
            input={"start": "2024-08-16 18:23:01"}, output={"start": "20240816182301"}),
    Example(title="a date in the wrong format is the caller's error",
            config={"fields": ["birth_date"], "from": "%Y%m%d", "to": "%Y-%m-%d"},
            input={"birth_date": "1982-08-21"}, error="ValidationFailed"),
])
def build(cfg: DateConfig, ctx: BuildContext) -> Step:
    """Reformat date strings at paths from one strptime format to another."""
    return UpdateFields([(Path(p), each_scalar(reformat(p, cfg.from_, cfg.to))) for p in cfg.fields])
