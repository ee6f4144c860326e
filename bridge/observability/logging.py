"""structlog setup: one JSON line per request, PII masked.

Masking works on keys: any value under a key named in the PII list (built-in names plus
``logging.pii``) is masked wherever it appears in an event, however deeply nested.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Iterable, MutableMapping

import orjson
import structlog

#: Field names that carry personal data in the seeds: id-card numbers, phones, names, addresses.
BUILTIN_PII = frozenset({
    "sfzh", "idNum", "id_no", "idNo", "idcard", "id_card", "IDCardNo", "IdCardNo", "CardNo",
    "lxdh", "phone", "phone_no", "phoneNum", "mobile", "Mobile", "Phone", "tel", "Telephone",
    "hzxm", "patient_name", "patientName", "PatientName", "name", "Name", "xm",
    "jtdz", "address", "Address", "jzkh", "card_no", "cardNo", "medicalCardNo",
    # credentials that legacy envelopes carry in the body (seed 002's systemKey, TOP's sign)
    "systemKey", "system_key", "password", "Password", "secret", "app_secret", "token", "sign",
})


def mask(value: Any) -> Any:
    """Keep the first and last character, hide the rest: enough to correlate, not to identify."""
    if value is None or value == "":
        return value
    text = str(value)
    if len(text) <= 2:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


class PiiMasker:
    """structlog processor masking PII keys anywhere in the event dict."""

    __slots__ = ("keys",)

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.keys = frozenset(BUILTIN_PII | set(extra))

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (mask(v) if k in self.keys and not isinstance(v, (dict, list)) else self._walk(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        keys = self.keys
        for key, value in event.items():  # values are replaced in place, keys never change
            cls = value.__class__
            if cls is dict or cls is list:
                event[key] = self._walk(value)
            elif key in keys:
                event[key] = mask(value)
        return event


def _orjson_dumps(obj: Any, **_: Any) -> str:
    """structlog's JSON renderer through orjson: the log line is on every request's path."""
    return orjson.dumps(obj, default=str).decode("utf-8")


def configure(level: str = "info", pii: Iterable[str] = (), fmt: str = "json",
              stream: Any = None, cache: bool = False) -> None:
    """Configure structlog process-wide.

    The server passes ``cache=True`` (loggers are bound once, not per call: the per-request line
    is on the hot path); tests leave it off so they can reconfigure and capture.
    """
    renderer: Any = (structlog.processors.JSONRenderer(serializer=_orjson_dumps) if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            PiiMasker(pii),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )
