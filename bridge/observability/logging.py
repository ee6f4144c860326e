"""structlog setup: one JSON line per request, PII masked.

Masking works on keys: any value under a key named in the PII list (built-in names plus
``logging.pii``) is masked wherever it appears in an event, however deeply nested.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import sys
import threading
import time
from typing import Any, Iterable, MutableMapping

import orjson
import structlog

#: Field names that carry personal data in the seeds: id-card numbers, phones, names, addresses.
BUILTIN_PII = frozenset({
    "sfzh", "idNum", "id_no", "idNo", "idcard", "id_card", "IDCardNo", "IdCardNo", "CardNo",
    "lxdh", "phone", "phone_no", "phoneNum", "mobile", "Mobile", "Phone", "tel", "Telephone",
    "hzxm", "patient_name", "patientName", "PatientName", "name", "Name", "xm",
    "jtdz", "address", "Address", "jzkh", "card_no", "cardNo", "medicalCardNo",
    # credentials that legacy envelopes carry in the body (seed 002's systemId/systemKey pair,
    # both issued as secrets; TOP's sign)
    "systemKey", "system_key", "systemId", "system_id", "password", "Password", "secret",
    "app_secret", "token", "sign",
})


def mask(value: Any) -> Any:
    """Keep the first and last character, hide the rest: enough to correlate, not to identify."""
    if value is None or value == "":
        return value
    text = str(value)
    if len(text) <= 2:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


#: Values of the running config's `secrets:` (see register_secrets): redacted wherever they
#: appear in a log event, whatever the field is called; one pattern finds any of them, and a
#: string shorter than the shortest secret cannot hold one.
_SECRET_VALUES: list[str] = []
_SECRETS: list[re.Pattern[str]] = []
_SHORTEST = [0]
REDACTED = "[secret]"


def register_secrets(values: Iterable[str]) -> None:
    """Tell the log pipeline which values are secret (the app does this for its `secrets:`).

    Values shorter than 6 characters are left out: redacting "1" or "yes" everywhere would
    destroy the logs and protect nothing."""
    _SECRET_VALUES[:] = sorted({v for v in values if isinstance(v, str) and len(v) >= 6},
                               key=len, reverse=True)
    # longest first, so a secret that contains another is redacted whole
    _SECRETS[:] = [re.compile("|".join(map(re.escape, _SECRET_VALUES)))] if _SECRET_VALUES else []
    _SHORTEST[0] = min(map(len, _SECRET_VALUES), default=0)


def _any_secret(text: str) -> bool:
    """Substring search per secret (str.__contains__ is a fast two-way search in C; one regex
    alternation of all of them is slower per character of text)."""
    for secret in _SECRET_VALUES:
        if secret in text:
            return True
    return False


def _redact(text: str) -> str:
    return _SECRETS[0].sub(REDACTED, text) if _SECRETS else text


class PiiMasker:
    """structlog processor: PII keys masked anywhere in the event, secret values redacted."""

    __slots__ = ("keys",)

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.keys = frozenset(BUILTIN_PII | set(extra))

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (mask(v) if k in self.keys and not isinstance(v, (dict, list)) else self._walk(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if (_SECRETS and value.__class__ is str and len(value) >= _SHORTEST[0]
                and _any_secret(value)):
            return _redact(value)
        return value

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        # one pass sorts the values; the checks then run in C: the PII keys by a set
        # intersection, the secrets by one search over all strings at once (a hit, or one that
        # straddles two strings, only sends it down the exact per-value path)
        strings: list[str] = []
        nested: list[str] | None = None
        shortest = _SHORTEST[0]
        for key, value in event.items():
            cls = value.__class__
            if cls is str:
                if len(value) >= shortest:      # a shorter one cannot hold a secret
                    strings.append(value)
            elif cls is dict or cls is list:
                if nested is None:
                    nested = []
                nested.append(key)
        keys = self.keys
        if not keys.isdisjoint(event):
            for key in keys.intersection(event):
                value = event[key]
                if value.__class__ is not dict and value.__class__ is not list:
                    event[key] = mask(value)
        if _SECRET_VALUES and strings and _any_secret("\n".join(strings)):
            for key, value in event.items():   # values are replaced in place, keys never change
                if value.__class__ is str and key not in keys:
                    event[key] = _redact(value)
        if nested is not None:
            for key in nested:
                event[key] = self._walk(event[key])
        return event


def render_json(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
    """structlog's final processor: the event as one JSON line, by orjson (the log line is on
    every request's path)."""
    return orjson.dumps(event, default=str).decode("utf-8")


class UtcTimestamp:
    """structlog processor: ``timestamp`` in ISO 8601 UTC with microseconds
    (``2026-11-22T04:50:03.328878Z``), the date and time part formatted once per second."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        whole, micro = divmod(time.time_ns() // 1000, 1_000_000)
        second, text = self._second   # one tuple: threads never see a second with another's text
        if whole != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        event["timestamp"] = "%s.%06dZ" % (text, micro)
        return event


_LEVEL_NAMES = {"warn": "warning", "exception": "error", "msg": "info", "fatal": "critical"}


class Prepare(PiiMasker):
    """structlog processor: ``level``, ``timestamp``, PII masked, ``exc_info`` formatted, in one
    call — what add_log_level, UtcTimestamp, PiiMasker and format_exc_info do one after the
    other, as one link of the chain that runs for every request's line."""

    __slots__ = ("_clock",)

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__(extra)
        self._clock = UtcTimestamp()

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if "exc_info" in event:
            event = structlog.processors.format_exc_info(logger, name, event)
        PiiMasker.__call__(self, logger, name, event)   # before the fields added here, ours
        event["level"] = _LEVEL_NAMES.get(name, name)
        return self._clock(logger, name, event)


def wrapper_class(min_level: int) -> type:
    """structlog's filtering bound logger, whose ``info`` runs the processor chain in its own
    frame: the request line is logged at info on every request, and structlog's generic path
    (meth -> _proxy_to_logger -> _process_event) was a third of its cost. Same semantics:
    context first, then the keywords, then ``event``; DropEvent drops; a processor chain may
    end in a string, a tuple (args, kwargs) or a dict."""
    base: Any = structlog.make_filtering_bound_logger(min_level)
    if min_level > logging.INFO:
        return base  # type: ignore[no-any-return]

    def info(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if args:
            event = event % args
        if self._context:
            kw = {**self._context, **kw}
        kw["event"] = event
        logger = self._logger
        out: Any = kw
        try:
            for proc in self._processors:
                out = proc(logger, "info", out)
        except structlog.DropEvent:
            return None
        if isinstance(out, (str, bytes, bytearray)):
            return logger.info(out)
        if isinstance(out, tuple):
            return logger.info(*out[0], **out[1])
        if isinstance(out, dict):
            return logger.info(**out)
        raise ValueError("Last processor didn't return an appropriate value.")

    return type(base.__name__, (base,), {"info": info, "msg": info})


class HotLoggers:
    """Loggers of the request path, bound once when logging is configured for serving.

    ``request`` is what exchange() logs each request's line to. With ``configure(cache=True)``
    (``bridge serve``) it is a bound logger, no lazy proxy in between; otherwise the proxy, so
    a test that reconfigures structlog (``structlog.testing.capture_logs``) sees every line.
    ``debug`` says whether debug events are written at all: they are built only then."""

    def __init__(self) -> None:
        self.request: Any = structlog.get_logger("bridge")
        self.debug = False


HOT = HotLoggers()


class LineWriter:
    """structlog logger: each line reaches the stream by the end of the event-loop turn that
    logged it; all lines of one turn go out in one write and one flush.

    Under load many requests finish in the same turn, and a write + flush per line was a third
    of the log line's cost. Outside a running loop (CLI commands, another thread) a line is
    written at once. Writes are cut at line boundaries below PIPE_BUF, so lines from several
    ``--workers`` sharing one pipe never interleave mid-line. Pending lines are flushed at exit.
    """

    CHUNK = 4000  # bytes-ish per write: under Linux's PIPE_BUF (4096), so each write is atomic

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._pending: list[str] = []
        self._scheduled = False
        self._lock = threading.Lock()
        atexit.register(self.flush)

    def msg(self, message: str) -> None:
        self._pending.append(message)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    log = debug = info = warn = warning = error = critical = exception = fatal = failure = err = msg

    def flush(self) -> None:
        with self._lock:
            self._scheduled = False
            lines, self._pending = self._pending, []
            if not lines:
                return
            chunk: list[str] = []
            size = 0
            for line in lines:
                if chunk and size + len(line) >= self.CHUNK:
                    self._write(chunk)
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line) + 1
            self._write(chunk)

    def _write(self, lines: list[str]) -> None:
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed stream at exit: nothing left to tell
            pass


class LineWriterFactory:
    """One LineWriter per stream, shared by every logger name."""

    def __init__(self, stream: Any) -> None:
        self.writer = LineWriter(stream)

    def __call__(self, *args: Any) -> LineWriter:
        return self.writer


def configure(level: str = "info", pii: Iterable[str] = (), fmt: str = "json",
              stream: Any = None, cache: bool = False) -> None:
    """Configure structlog process-wide.

    The server passes ``cache=True`` (loggers are bound once, not per call: the per-request line
    is on the hot path); tests leave it off so they can reconfigure and capture.
    """
    renderer: Any = render_json if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    threshold = getattr(logging, level.upper())
    structlog.configure(
        processors=[Prepare(pii), renderer],
        wrapper_class=wrapper_class(threshold),
        logger_factory=LineWriterFactory(stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )
    HOT.request = structlog.get_logger("bridge").bind() if cache else structlog.get_logger("bridge")
    HOT.debug = threshold <= logging.DEBUG
