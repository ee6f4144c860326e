"""``map_values``: translate code values (``mz`` -> ``outpatient``, ``1`` -> ``男``).

YAML reads ``1:`` as an int and ``true:`` as a bool while XML bodies carry strings, so keys and
values are both compared in their string form (``placeholders.fmt``): ``1:`` matches ``"1"`` and
``1``; ``true:`` matches ``True`` and ``"true"``; ``null:`` matches null and ``""``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, RootModel, model_validator

from bridge.paths import MISSING, Path
from bridge.placeholders import fmt
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, each_scalar, UpdateFields
from bridge.types import Step


class ValueMap(StepConfig):
    map: dict[Any, Any] = Field(description="from: to")
    default: Any = Field(None, description="value for anything not in map (when not given: "
                                           "unmapped values stay as they are)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        # The long form is recognised only by its exact shape, so a code table may still map
        # a value that happens to be called "map".
        if isinstance(raw, dict) and isinstance(raw.get("map"), dict) \
                and set(raw) <= {"map", "default"}:
            return raw
        if isinstance(raw, dict):
            return {"map": raw}
        return raw


class MapValuesConfig(RootModel[Annotated[dict[PathText, ValueMap], Field(min_length=1)]]):
    """path: {from: to, ...} or path: {map: {...}, default: x}."""


class Translate:
    __slots__ = ("table", "default")

    def __init__(self, vm: ValueMap) -> None:
        self.table = {fmt(k): v for k, v in vm.map.items()}
        self.default = vm.default if "default" in vm.model_fields_set else MISSING

    def __call__(self, value: Any) -> Any:
        out = self.table.get(fmt(value), MISSING)
        if out is not MISSING:
            return out
        return value if self.default is MISSING else self.default


@register_step("map_values", MapValuesConfig, examples=[
    Example(title="code table; YAML int keys match string values",
            config={"sex": {1: "男", 2: "女"}, "visit_type": {"mz": "outpatient", "zy": "inpatient"}},
            input={"sex": "1", "visit_type": "zy", "bookings": []},
            output={"sex": "男", "visit_type": "inpatient", "bookings": []}),
    Example(title="a default for unmapped values, through a list",
            config={"bookings.status": {"map": {"0": "booked", "1": "cancelled"},
                                        "default": "unknown"}},
            input={"bookings": [{"status": "0"}, {"status": "9"}, {"id": 3}]},
            output={"bookings": [{"status": "booked"}, {"status": "unknown"}, {"id": 3}]}),
])
def build(cfg: MapValuesConfig, ctx: BuildContext) -> Step:
    """Translate values at paths through a table; unmapped values stay unless a default is given."""
    return UpdateFields([(Path(p), each_scalar(Translate(vm))) for p, vm in cfg.root.items()])
