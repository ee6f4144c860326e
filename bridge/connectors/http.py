"""The HTTP connector: one per target, over the app's shared client (bridge.connectors.client).

Per target: a timeout, a concurrency bulkhead (semaphore), retries for calls the route declares
idempotent, and a circuit breaker (open -> 503 without touching the target; after the cooldown
one probe decides). The request head is written here, once per call, from parts computed when
the config loaded.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from bridge.codecs.charset import content_type_parts
from bridge.connectors.client import ClientError, HttpClient, Origin, Pool, request_target
from bridge.config.models import TargetConfig
from bridge.errors import Unavailable, UpstreamError, UpstreamTimeout
from bridge.observability.metrics import Metrics


@dataclass(slots=True)
class HttpReply:
    status: int
    media_type: str
    charset: str | None
    body: bytes
    elapsed: float


class Breaker:
    """Consecutive-failure circuit breaker with a single half-open probe."""

    __slots__ = ("failures", "cooldown", "consecutive", "opened_at", "probing", "_gauge")

    def __init__(self, failures: int, cooldown: float, gauge: object) -> None:
        self.failures, self.cooldown = failures, cooldown
        self.consecutive = 0
        self.opened_at: float | None = None
        self.probing = False
        self._gauge = gauge

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if not self.probing and time.monotonic() - self.opened_at >= self.cooldown:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        if self.opened_at is not None:
            self._gauge.set(0)  # type: ignore[attr-defined]
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failed(self) -> None:
        self.consecutive += 1
        if self.probing or self.consecutive >= self.failures:
            self.opened_at, self.probing = time.monotonic(), False
            self._gauge.set(1)  # type: ignore[attr-defined]


class HttpTarget:
    def __init__(self, name: str, cfg: TargetConfig, metrics: Metrics) -> None:
        self.name, self.cfg, self.metrics = name, cfg, metrics
        self.base_url = cfg.url
        self.origin = Origin.parse(cfg.url)
        self.limit = asyncio.Semaphore(cfg.concurrency)
        self.attempts = cfg.retry.attempts if cfg.retry else 1
        self.breaker = (Breaker(cfg.breaker.failures, cfg.breaker.cooldown,
                                metrics.breaker_open.labels(name)) if cfg.breaker else None)
        self.pool: Pool | None = None
        self._heads: dict[tuple[Any, ...], tuple[str, frozenset[str]]] = {}

    def bind(self, client: HttpClient) -> None:
        self.pool = client.pool(self.origin)

    def _head(self, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
        """The request line and headers, as bytes.

        What does not change between calls of one route (request line, Host, User-Agent, ...,
        and which of those the route's own headers replace) is worked out once per (method,
        path, header names). A CR or LF in a header would split the request: refused."""
        key = (method, path, *headers)
        known = self._heads.get(key)
        if known is None:
            known = self._start(method, path, headers)
            if len(self._heads) < 1024:
                self._heads[key] = known
        start, skip = known
        if skip:
            headers = {k: v for k, v in headers.items() if k not in skip}
        lines = "".join([f"{k}: {v}\r\n" for k, v in headers.items()])
        if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
            bad = next(k for k, v in headers.items() if "\r" in k + v or "\n" in k + v)
            raise UpstreamError(f"header {bad!r} for target {self.name} contains a line break",
                                code="bad_header")
        if length or method not in ("GET", "DELETE"):
            lines += f"Content-Length: {length}\r\n"
        return (start + lines + "\r\n").encode("utf-8")

    def _start(self, method: str, path: str, headers: dict[str, str]) -> tuple[str, frozenset[str]]:
        given = {k.lower() for k in headers}
        defaults = {"host": self.origin.host_header, "user-agent": "bridge", "accept": "*/*",
                    "accept-encoding": "gzip, deflate"}
        if self.origin.authorization:   # credentials in the target's URL
            defaults["authorization"] = self.origin.authorization
        fixed = "".join(f"{k.title()}: {v}\r\n" for k, v in defaults.items() if k not in given)
        # the length is the body's; framing headers from a config would contradict it
        skip = frozenset(k for k in headers if k.lower() in ("content-length", "transfer-encoding",
                                                              "connection"))
        line = f"{method} {request_target(self.origin.base_path, path)} HTTP/1.1\r\n"
        return line + fixed, skip

    async def call(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   idempotent: bool) -> HttpReply:
        """One call (several for idempotent calls to a target with ``retry:``); the body of a
        try is written out here rather than in a helper: it is every request's path."""
        attempts = self.attempts if idempotent else 1
        attempt = 0
        while True:
            attempt += 1
            breaker = self.breaker
            if breaker is not None and not breaker.allow():
                raise Unavailable(f"target {self.name} is unavailable (circuit breaker open)",
                                  code="breaker_open")
            assert self.pool is not None, "target used before the app started"
            data = [self._head(method, path, headers, len(body)), body] if body else \
                [self._head(method, path, headers, 0)]
            started = time.perf_counter()
            status_label = "error"
            try:
                async with self.limit:
                    resp = await self.pool.send(data, self.cfg.timeout)
                status_label = str(resp.status)
            except TimeoutError:
                status_label = "timeout"
                self._failed()
                if attempt >= attempts:
                    raise UpstreamTimeout(f"target {self.name} did not answer within "
                                          f"{self.cfg.timeout:g}s", code="upstream_timeout") from None
            except ClientError as exc:
                self._failed()
                if attempt >= attempts:
                    raise UpstreamError(f"cannot reach target {self.name}: {exc.kind}",
                                        code="upstream_unreachable", detail=exc.detail) from None
            else:
                status = resp.status
                if status >= 500:
                    self._failed()
                elif breaker is not None:
                    breaker.succeeded()
                if status < 500 or attempt >= attempts:
                    media, label = content_type_parts(resp.content_type)
                    return HttpReply(status, media, label, resp.body, time.perf_counter() - started)
            finally:
                self.metrics.upstream_done(self.name, status_label, time.perf_counter() - started)
            self.metrics.retries.labels(self.name).inc()
            assert self.cfg.retry is not None
            delay = min(self.cfg.retry.max_backoff, self.cfg.retry.backoff * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def _failed(self) -> None:
        if self.breaker is not None:
            self.breaker.failed()
