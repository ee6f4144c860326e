"""`python` steps of the registration routes (seed 001 (b) hospital side -> seed 003 HIS): the
few mappings a template cannot express. Each takes a Message and returns it."""

from __future__ import annotations

import re
from typing import Any

from bridge.errors import BridgeError
from bridge.message import Message
from bridge.placeholders import fmt


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class NotSupported(BridgeError):
    status, code, outcome = 501, "not_supported", "refused"


def not_supported(msg: Message, *, what: str) -> Message:
    """The hospital's system cannot answer this operation: the route's error shape says so."""
    raise NotSupported(f"not supported: {what}")


def _remaining(row: dict[str, Any]) -> int | None:
    """Places left in a seed 003 /get_time slot: PATIENT_TYPE_NAME, whose description is 剩余数
    (the table's descriptions are shifted against its names); None when it does not say."""
    try:
        return int(row.get("PATIENT_TYPE_NAME"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def first_free_slot(msg: Message, *, slots: str = "slots", into: str = "numSourceId") -> Message:
    """Where the platform names no slot (numSourceId empty: 按班次, not 按时段), the first slot of
    the schedule with places left, from the HIS's own /get_time answer at ``slots``."""
    body = msg.body if isinstance(msg.body, dict) else {}
    if not fmt(body.get(into)):
        rows = (body.get(slots) or {}).get("DATA") or []
        for row in rows if isinstance(rows, list) else [rows]:
            left = _remaining(row) if isinstance(row, dict) else 0
            if isinstance(row, dict) and (left is None or left > 0) and fmt(row.get("TIME_ID")):
                body[into] = fmt(row.get("TIME_ID"))
                break
    msg.body = body
    return msg


def time_slots(msg: Message) -> Message:
    """Seed 003 /get_time DATA (TIME_ID, TIME_NAME "08:00-08:30", counts) -> seed 001 §3.8
    NumberList Records (StartDate, EndDate, CurNum, SeeDate, Status, numSourceId), in the HIS's
    order. Status: 1 可挂 while the slot has places left, else 3 已挂.

    The seed 003 table's descriptions are shifted against its names (REGISTER_TYPE_NAME 可约数,
    PATIENT_TYPE_ID 已约数, PATIENT_TYPE_NAME 剩余数, CLINIC_NAME 日期): read by description."""
    body = msg.body if isinstance(msg.body, dict) else {}
    rows = body.get("DATA") or []
    records: list[dict[str, Any]] = []
    for i, row in enumerate(rows if isinstance(rows, list) else [rows]):
        if not isinstance(row, dict):
            continue
        start, _, end = fmt(row.get("TIME_NAME")).partition("-")
        # CLINIC_NAME is described as 日期 YYYY-MM-DD but named 号类名称: a date only if it is one
        day = fmt(row.get("CLINIC_NAME"))
        day = day if _DATE.fullmatch(day) else ""
        left = _remaining(row)
        records.append({"StartDate": f"{day} {start.strip()}".strip(),
                        "EndDate": f"{day} {end.strip()}".strip(),
                        "CurNum": i + 1, "SeeDate": day or fmt(row.get("TIME_NAME")),
                        "Status": "1" if left is None or left > 0 else "3",
                        "numSourceId": fmt(row.get("TIME_ID"))})
    body["records"] = records
    msg.body = body
    return msg


def card_valid(msg: Message) -> Message:
    """Seed 001 §6.1: a card is valid when the HIS knows it and it belongs to the person named
    (身份证 and 姓名 as the platform sent them)."""
    body = msg.body if isinstance(msg.body, dict) else {}
    patient = body.get("patient") if isinstance(body.get("patient"), dict) else {}
    request = msg.request if isinstance(msg.request, dict) else {}
    same = (fmt(patient.get("id_no")).upper() == fmt(request.get("UserCardNo")).upper()
            and fmt(patient.get("name")) == fmt(request.get("UserName")))
    body["valid"] = "true" if same else "false"
    msg.body = body
    return msg
