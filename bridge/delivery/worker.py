"""The delivery worker: drains the store into targets, with retries, backoff and dead letters.

Each message is one independent task, so a poisoned or slow message never blocks the others
(no head-of-line blocking); the store hands out only the oldest undelivered message of an
``ordered_by`` key, so per-key order holds while other keys flow on. Per-target concurrency is
the target's own bulkhead. Every attempt carries ``Idempotency-Key: <message id>``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Callable, Mapping

import structlog

from bridge.config.models import RetryConfig
from bridge.delivery.base import Record, Store
from bridge.errors import BridgeError
from bridge.observability.metrics import Metrics

log = structlog.get_logger("bridge.delivery")

#: Retry policy of queued routes whose target declares none: queued messages always retry.
DEFAULT_RETRY = RetryConfig(attempts=8, backoff=0.5, max_backoff=60.0)


def backoff(policy: RetryConfig, attempt: int) -> float:
    """Exponential backoff with jitter (half to full of the capped exponential delay)."""
    delay = min(policy.max_backoff, policy.backoff * 2 ** max(attempt - 1, 0))
    return delay * random.uniform(0.5, 1.0)


class Worker:
    def __init__(self, store: Store, routes: Callable[[], Mapping[str, Any]], metrics: Metrics, *,
                 batch: int = 128, poll: float = 0.25, max_inflight: int = 1024) -> None:
        self.store = store
        self.routes = routes            # current routes by name (a reload swaps them)
        self.metrics = metrics
        self.batch, self.poll = batch, poll
        self.slots = asyncio.Semaphore(max_inflight)
        self.wake = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="bridge-delivery")

    def notify(self) -> None:
        """A message was enqueued: look now rather than at the next poll."""
        self.wake.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; let in-flight deliveries finish within ``timeout`` (the rest resume
        after restart: they are still in flight in the store and `recover()` re-queues them)."""
        self._stopping = True
        self.wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except asyncio.CancelledError:
                pass
        if self.tasks:
            done, pending = await asyncio.wait(self.tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        last_depth = 0.0
        while not self._stopping:
            try:
                free = self.slots._value  # noqa: SLF001  (how many more we may start)
                records = await self.store.claim(min(self.batch, free), time.time()) if free else []
                for record in records:
                    await self.slots.acquire()
                    task = asyncio.create_task(self._deliver(record))
                    self.tasks.add(task)
                    task.add_done_callback(self._done)
                now = time.monotonic()
                if now - last_depth > 1.0:
                    await self._update_depth()
                    last_depth = now
                if len(records) == self.batch:
                    continue  # more may be due right away
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), self.poll)
                except asyncio.TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.error("delivery_loop_error", exc_info=True)
                await asyncio.sleep(self.poll)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.slots.release()
        self.wake.set()

    async def _update_depth(self) -> None:
        depth = await self.store.depth()
        for name in self.routes():
            self.metrics.queue_depth.labels(name).set(depth.get(name, 0))

    async def _deliver(self, record: Record) -> None:
        route = self.routes().get(record.route)
        if route is None:
            # the route vanished in a reload: keep the message, try again later
            await self.store.retry(record.id, f"route {record.route} is not configured",
                                   time.time() + 60, None)
            return
        policy = route.target.cfg.retry or DEFAULT_RETRY
        headers = {**record.headers, "Idempotency-Key": record.id}
        attempt = record.attempts + 1
        status: int | None = None
        started = time.monotonic()
        try:
            status = await route.deliver(record.method, record.path, record.body, headers)
        except BridgeError as exc:
            upstream = exc.upstream_status
            if attempt >= policy.attempts:
                self.metrics.dead_letters.labels(record.route).inc()
                _attempt_line(record, attempt, "dead", upstream, started, exc.message)
                await self.store.dead(record.id, exc.message, upstream)
            else:
                self.metrics.retries.labels(route.target.name).inc()
                _attempt_line(record, attempt, "retry", upstream, started, exc.message)
                await self.store.retry(record.id, exc.message, time.time() + backoff(policy, attempt),
                                       upstream)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not lose the message: retry it later
            log.error("delivery_crashed", route=record.route, message_id=record.id, attempt=attempt,
                      exc_info=True)
            await self.store.retry(record.id, f"internal error: {type(exc).__name__}",
                                   time.time() + backoff(policy, attempt), None)
            return
        _attempt_line(record, attempt, "delivered", status, started, None)
        await self.store.delivered(record.id, status)


def _attempt_line(record: Record, attempt: int, outcome: str, upstream_status: int | None,
                  started: float, error: str | None) -> None:
    """One log line per delivery attempt of a queued message, through the same processors (PII
    masking included) as the request lines: a redelivery is visible in the log, not only in
    `bridge messages`. A message's last failure is a warning; its retries are info."""
    fields: dict[str, Any] = {
        "route": record.route, "message_id": record.id, "attempt": attempt, "outcome": outcome,
        "upstream_status": upstream_status,
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "request_id": record.headers.get("X-Request-ID"),
    }
    if error is not None:
        fields["error"] = error
    if outcome == "dead":
        log.warning("delivery_attempt", **fields)
    else:
        log.info("delivery_attempt", **fields)


class Queue:
    """What a queued route puts messages into: commit to the store, then wake the worker."""

    __slots__ = ("store", "worker")

    def __init__(self, store: Store, worker: Worker) -> None:
        self.store, self.worker = store, worker

    async def put(self, record: Record) -> None:
        await self.store.enqueue(record)
        self.worker.notify()
