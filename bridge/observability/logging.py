"""structlog setup: one JSON line per request, PII masked.

Masking works on keys: any value under a key named in the PII list (built-in names plus
``logging.pii``) is masked wherever it appears in an event, however deeply nested.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Iterable, MutableMapping

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
        for key, value in list(event.items()):
            if key in self.keys and not isinstance(value, (dict, list)):
                event[key] = mask(value)
            elif isinstance(value, (dict, list)):
                event[key] = self._walk(value)
        return event


def configure(level: str = "info", pii: Iterable[str] = (), fmt: str = "json",
              stream: Any = None) -> None:
    """Configure structlog process-wide (the CLI calls this once; tests may call it again)."""
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
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
        cache_logger_on_first_use=False,
    )
