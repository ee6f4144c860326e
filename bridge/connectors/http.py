"""The HTTP connector: one per target, sharing the app's single aiohttp ClientSession.

Per target: a timeout, a concurrency bulkhead (semaphore), retries for calls the route declares
idempotent, and a circuit breaker (open -> 503 without touching the target; after the cooldown
one probe decides).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bridge.codecs.charset import content_type_parts
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
        self.timeout = aiohttp.ClientTimeout(total=cfg.timeout)
        self.limit = asyncio.Semaphore(cfg.concurrency)
        self.attempts = cfg.retry.attempts if cfg.retry else 1
        self.breaker = (Breaker(cfg.breaker.failures, cfg.breaker.cooldown,
                                metrics.breaker_open.labels(name)) if cfg.breaker else None)
        self.session: aiohttp.ClientSession | None = None
        self._duration = metrics.upstream_duration.labels(name)
        self._by_status: dict[str, Any] = {}

    def bind(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   idempotent: bool) -> HttpReply:
        attempts = self.attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                reply = await self._once(method, path, body, headers)
            except (UpstreamError, UpstreamTimeout):
                if attempt == attempts:
                    raise
            else:
                if reply.status < 500 or attempt == attempts:
                    return reply
            self.metrics.retries.labels(self.name).inc()
            assert self.cfg.retry is not None
            delay = min(self.cfg.retry.max_backoff, self.cfg.retry.backoff * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        if self.breaker is not None and not self.breaker.allow():
            raise Unavailable(f"target {self.name} is unavailable (circuit breaker open)",
                              code="breaker_open")
        assert self.session is not None, "target used before the app started"
        url = self.base_url + path
        started = time.perf_counter()
        status_label = "error"
        try:
            async with self.limit:
                async with self.session.request(method, url, data=body, headers=headers,
                                                timeout=self.timeout, allow_redirects=False) as resp:
                    data = await resp.read()
                    status_label = str(resp.status)
                    media, label = content_type_parts(resp.headers.get("Content-Type") or "")
                    reply = HttpReply(resp.status, media, label, data, time.perf_counter() - started)
        except asyncio.TimeoutError:
            status_label = "timeout"
            self._failed()
            raise UpstreamTimeout(f"target {self.name} did not answer within {self.cfg.timeout:g}s",
                                  code="upstream_timeout") from None
        except aiohttp.ClientError as exc:
            self._failed()
            raise UpstreamError(f"cannot reach target {self.name}: {type(exc).__name__}",
                                code="upstream_unreachable") from None
        finally:
            self._duration.observe(time.perf_counter() - started)
            counter = self._by_status.get(status_label)
            if counter is None:
                counter = self._by_status[status_label] = self.metrics.upstream_requests.labels(
                    self.name, status_label)
            counter.inc()
        if reply.status >= 500:
            self._failed()
        elif self.breaker is not None:
            self.breaker.succeeded()
        return reply

    def _failed(self) -> None:
        if self.breaker is not None:
            self.breaker.failed()
