"""Field rules as data: a seed's field table becomes ``{name: Rule}`` and one checker walks it.

Seed documents describe each field as 约束 (必填 required / 可选 optional / 门诊必填 required for
outpatients), 类型 and 长度 (max length, counted here in characters). Simulators copy those
tables row by row so a reviewer can hold them against the seed; no per-field if/else.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping


class Need(Enum):
    """The seed's 约束 column."""

    REQUIRED = "必填"
    OPTIONAL = "可选"
    OUTPATIENT = "门诊必填"     # required when the visit is outpatient (mz)


#: A format check: returns a problem ("expected ...") or None.
Check = Callable[[str], str | None]


@dataclass(frozen=True)
class Rule:
    """One row of a seed field table, plus the value rules its 备注 column states."""

    need: Need
    max_len: int
    choices: frozenset[str] | None = None    # allowed values, compared case-insensitively
    check: Check | None = None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: str) -> str | None:
    """YYYY-MM-DD and a real calendar day."""
    if _ISO_DATE.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"expected a date YYYY-MM-DD, got {_show(value)}"


def _show(value: str) -> str:
    return repr(value if len(value) <= 32 else value[:32] + "…")


def check_fields(body: Mapping[str, Any], table: Mapping[str, Rule], *, outpatient: bool = False,
                 prefix: str = "") -> list[str]:
    """Every problem of ``body`` against ``table``, as ``"<field>: <what is wrong>"``.

    Missing, null and blank values count as absent. Fields not in the table are ignored, as the
    platforms do. ``prefix`` names the enclosing item (``bookings[0].``) in messages.
    """
    problems: list[str] = []
    for name, rule in table.items():
        value = body.get(name)
        where = prefix + name
        required = rule.need is Need.REQUIRED or (rule.need is Need.OUTPATIENT and outpatient)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problems.append(f"{where}: required")
            continue
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {type(value).__name__}")
            continue
        if len(value) > rule.max_len:
            problems.append(f"{where}: at most {rule.max_len} characters, got {len(value)}")
            continue
        if rule.choices is not None and value.lower() not in rule.choices:
            allowed = ", ".join(sorted(rule.choices))
            problems.append(f"{where}: must be one of {allowed}, got {_show(value)}")
        elif rule.check is not None and (problem := rule.check(value)) is not None:
            problems.append(f"{where}: {problem}")
    return problems
