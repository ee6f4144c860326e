"""require: presence and length, every failure in one 422, list items checked and named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.errors import ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def failure(config: Any, body: Any) -> ValidationFailed:
    step = STEPS["require"].compile(config, CTX)
    with pytest.raises(ValidationFailed) as info:
        step(Message(body))
    return info.value


def passes(config: Any, body: Any) -> None:
    msg = Message(body)
    assert STEPS["require"].compile(config, CTX)(msg) is msg


def test_all_failures_in_one_message() -> None:
    err = failure({"order_id": None, "from_hospital_code": None, "patient_name": 64},
                  {"order_id": "", "patient_name": "x" * 70})
    assert err.message == ("missing required field(s): order_id, from_hospital_code; "
                           "too long: patient_name (70 > 64)")
    assert err.status == 422
    assert err.detail == {"missing": ["order_id", "from_hospital_code"],
                          "too_long": ["patient_name (70 > 64)"]}


def test_presence_values() -> None:
    passes(["a", "b", "c", "d"], {"a": 0, "b": False, "c": [], "d": "x"})
    assert failure(["a"], {"a": None}).message == "missing required field(s): a"


def test_length_counts_characters_not_bytes() -> None:
    passes({"name": 3}, {"name": "阮柯娜"})
    assert failure({"name": 2}, {"name": "阮柯娜"}).message == "too long: name (3 > 2)"
    assert failure({"n": 2}, {"n": 12345}).message == "too long: n (5 > 2)"


def test_every_list_item_checked_and_named_by_index() -> None:
    body = {"bookings": [{"rsid": "1"}, {"rsid": ""}, {}, {"rsid": "toolong"}]}
    err = failure({"bookings.rsid": 3}, body)
    assert err.message == ("missing required field(s): bookings.1.rsid, bookings.2.rsid; "
                           "too long: bookings.3.rsid (7 > 3)")


def test_missing_parent_names_the_full_path() -> None:
    assert failure(["patient.name"], {}).message == "missing required field(s): patient.name"
    assert failure(["patient.name"], {"patient": ""}).message == \
        "missing required field(s): patient.name"
    assert failure(["a.b.c"], {"a": {}}).message == "missing required field(s): a.b.c"


def test_empty_list_has_no_items_to_miss() -> None:
    passes(["bookings.rsid"], {"bookings": []})
    passes(["bookings"], {"bookings": []})


def test_long_lists_are_capped_in_the_message() -> None:
    err = failure(["rows.id"], {"rows": [{} for _ in range(30)]})
    assert err.message.endswith("rows.19.id and 10 more")
    assert len(err.detail["missing"]) == 30


def test_single_path_shorthand() -> None:
    assert failure("a", {}).message == "missing required field(s): a"


@pytest.mark.parametrize("config", [[], {}, {"a": 0}, {"a": "long"}, ["a..b"], [1]])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["require"].model.model_validate(config)
