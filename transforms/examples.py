"""Example `python` steps: a function takes a Message (and its `args`) and returns it.

Used by the `python` step's documented examples; copy one to start your own.
"""

from __future__ import annotations

from bridge.message import Message
from bridge.placeholders import fmt


def count_bookings(msg: Message) -> Message:
    """Add `booking_count`, the number of items under `bookings`."""
    body = msg.body
    if isinstance(body, dict):
        bookings = body.get("bookings")
        body["booking_count"] = len(bookings) if isinstance(bookings, list) else 0
    return msg


def join_fields(msg: Message, *, fields: list[str], into: str, sep: str = " ") -> Message:
    """Add `into`: the non-empty values of `fields` joined by `sep` (e.g. a time range)."""
    body = msg.body
    if isinstance(body, dict):
        parts = [fmt(body.get(f)) for f in fields]
        body[into] = sep.join(p for p in parts if p)
    return msg
