"""``require``: refuse a message that lacks fields or has values too long for the target.

Every failure is collected into one 422, so a caller fixes all of them in one round trip. Through
lists every item is checked and named by its index (``bookings.1.rsid``). Length counts
characters, not bytes, as the seeds' ``varchar(n)`` columns do.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import Field, RootModel, field_validator

from bridge.errors import ValidationFailed
from bridge.message import Message
from bridge.paths import MISSING
from bridge.placeholders import fmt
from bridge.registry import BuildContext, Example, register_step
from bridge.steps._common import PathText, is_empty, name_list
from bridge.types import Step, Tree


class RequireConfig(RootModel[dict[PathText, int | None]]):
    """[path, ...] (presence) or {path: max_length | null}."""

    root: dict[PathText, int | None] = Field(min_length=1)

    @field_validator("root", mode="before")
    @classmethod
    def _list_form(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            raw = [raw]
        if isinstance(raw, list):
            if not all(isinstance(p, str) for p in raw):
                raise ValueError("expected a list of paths")
            return dict.fromkeys(raw)
        return raw

    @field_validator("root")
    @classmethod
    def _positive(cls, v: dict[str, int | None]) -> dict[str, int | None]:
        for path, n in v.items():
            if n is not None and n < 1:
                raise ValueError(f"{path}: max_length must be at least 1")
        return v


def found(node: Tree, parts: tuple[str, ...], done: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value or MISSING) for every place the path should reach."""
    if isinstance(node, list) and parts:
        for i, item in enumerate(node):
            yield from found(item, parts, f"{done}.{i}" if done else str(i))
        return
    if not parts:
        yield done, node
        return
    head, rest = parts[0], parts[1:]
    child = node.get(head, MISSING) if isinstance(node, dict) else MISSING
    here = f"{done}.{head}" if done else head
    if child is MISSING or (rest and is_empty(child)):
        yield (f"{here}.{'.'.join(rest)}" if rest else here), MISSING
        return
    yield from found(child, rest, here)


class Require:
    __slots__ = ("fields", "top")

    def __init__(self, fields: list[tuple[tuple[str, ...], int | None]]) -> None:
        self.fields = fields
        #: every field top-level: checked by lookups alone (the common case)
        self.top = [(parts[0], limit) for parts, limit in fields] \
            if all(len(parts) == 1 for parts, _ in fields) else None

    def __call__(self, msg: Message) -> Message:
        body = msg.body
        if self.top is not None and body.__class__ is dict:
            get = body.get  # type: ignore[union-attr]
            for key, limit in self.top:
                value = get(key)
                if value.__class__ is not str or not value or (limit is not None and len(value) > limit):
                    break            # not a plain good string: the full check says what is wrong
            else:
                return msg
        return self._check(msg)

    def _check(self, msg: Message) -> Message:
        missing: list[str] = []
        too_long: list[str] = []
        body = msg.body
        flat = body.__class__ is dict
        for parts, limit in self.fields:
            if flat and len(parts) == 1:      # a top-level field, no walk
                value = body.get(parts[0], MISSING)  # type: ignore[union-attr]
                if value.__class__ is not list:
                    if is_empty(value):
                        missing.append(parts[0])
                    elif limit is not None and value.__class__ is not dict:
                        n = len(fmt(value))
                        if n > limit:
                            too_long.append(f"{parts[0]} ({n} > {limit})")
                    continue
            for where, value in found(body, parts, ""):
                if is_empty(value):
                    missing.append(where)
                elif limit is not None and not isinstance(value, (dict, list)):
                    n = len(fmt(value))
                    if n > limit:
                        too_long.append(f"{where} ({n} > {limit})")
        if missing or too_long:
            problems = []
            if missing:
                problems.append(f"missing required field(s): {name_list(missing)}")
            if too_long:
                problems.append(f"too long: {name_list(too_long)}")
            raise ValidationFailed("; ".join(problems),
                                   detail={"missing": missing, "too_long": too_long})
        return msg


@register_step("require", RequireConfig, examples=[
    Example(title="presence: missing, null and empty all fail",
            config=["order_id", "from_hospital_code"],
            input={"order_id": "A1", "from_hospital_code": "H1"},
            output={"order_id": "A1", "from_hospital_code": "H1"}),
    Example(title="every failure in one error",
            config=["order_id", "from_hospital_code"],
            input={"order_id": "", "from_hospital_code": None}, error="ValidationFailed"),
    Example(title="maximum lengths (characters) from the interface table",
            config={"patient_name": 4, "bookings.dept_code": None},
            input={"patient_name": "阮柯娜", "bookings": [{"dept_code": "K1"}]},
            output={"patient_name": "阮柯娜", "bookings": [{"dept_code": "K1"}]}),
])
def build(cfg: RequireConfig, ctx: BuildContext) -> Step:
    """Fail with one 422 listing every missing field and every value longer than allowed."""
    return Require([(tuple(p.split(".")), n) for p, n in cfg.root.items()])
