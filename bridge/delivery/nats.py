"""The shared store: NATS JetStream, so several bridge instances drain one queue.

Three streams, created on first use (never deleted by the bridge):

- ``<stream>`` (work-queue retention): one message per queued request on
  ``<prefix>.queue.<route>``, the request body as payload and the rest in headers. A durable pull
  consumer with explicit ack is shared by every instance: whoever fetches a message owns it until
  it acks (delivered), naks with a delay (retry) or terms it (dead). If an instance dies, JetStream
  itself redelivers its un-acked messages after ``ack_wait`` -- that is the whole of `recover()`.
  ``Nats-Msg-Id`` = the message id, so a re-sent publish inside the duplicate window is dropped;
  the message id is also the ``Idempotency-Key`` every attempt carries.
- ``<stream>_DEAD`` (limits): dead letters on ``<prefix>.dead.<route>``, kept until replayed.
- ``<stream>_JOURNAL`` (one message per subject, aged out): the last status event of each message
  on ``<prefix>.journal.<id>``, so operators can still list delivered messages (the work queue
  forgets them on ack) and see the last error of a message waiting for its retry.

Per-key order (``ordered_by``) is not offered: a work queue shared by instances has no cheap
"oldest undelivered of this key" gate, so config loading refuses ``ordered_by`` with this store.
Listing and ``get`` walk the streams message by message (an operator's tool, not a hot path).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlsplit

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from bridge.delivery.base import Record
from bridge.errors import TooLarge, Unavailable

_TOKEN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def route_token(route: str) -> str:
    """A route name as subject tokens: as is when it is subject-safe, else hex behind ``%``
    (reversible, so depth per route can be read back from per-subject counts)."""
    return route if _TOKEN.fullmatch(route) else "%" + route.encode().hex()


def token_route(token: str) -> str:
    return bytes.fromhex(token[1:]).decode() if token.startswith("%") else token


def _b64(value: dict[str, Any]) -> str:
    """NATS header values are single ASCII lines: JSON behind base64 carries any text safely."""
    return base64.b64encode(orjson.dumps(value)).decode("ascii")


def _unb64(text: str | None) -> dict[str, Any]:
    return orjson.loads(base64.b64decode(text)) if text else {}


class NatsOptions:
    """What a ``nats://`` store URL says: servers, stream and subject prefix, timings."""

    __slots__ = ("servers", "stream", "prefix", "ack_wait", "journal_age", "fetch_wait")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls") or not parts.netloc:
            raise ValueError(f"expected nats://host:4222[?stream=BRIDGE&prefix=bridge], got {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        auth, _, hosts = parts.netloc.rpartition("@")
        self.servers = [f"{parts.scheme}://{auth + '@' if auth else ''}{h}" for h in hosts.split(",")]
        self.stream = query.get("stream", "BRIDGE")
        self.prefix = query.get("prefix", "bridge")
        self.ack_wait = float(query.get("ack_wait", "30"))          # seconds until a dead
        self.journal_age = float(query.get("journal_age", "86400"))  # instance's claims return
        self.fetch_wait = float(query.get("fetch_wait", "0.2"))
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.stream) or not _TOKEN.fullmatch(self.prefix):
            raise ValueError(f"bad stream or prefix in {url!r}: letters, digits, _ and - only")


class NatsStore:
    def __init__(self, url: str) -> None:
        self.opts = NatsOptions(url)
        o = self.opts
        self.queue_stream, self.dead_stream = o.stream, f"{o.stream}_DEAD"
        self.journal_stream = f"{o.stream}_JOURNAL" if o.journal_age > 0 else None
        self.consumer = f"{o.stream}_worker"
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._held: dict[str, tuple[Msg, Record]] = {}   # claimed by this instance, by record id
        self._keepalive: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "store used before open()"
        return self._js

    async def open(self) -> None:
        o = self.opts
        self._nc = await nats.connect(servers=o.servers, name="bridge", connect_timeout=3,
                                      max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        self._js = self._nc.jetstream(timeout=5)
        await self._ensure_stream(api.StreamConfig(
            name=self.queue_stream, subjects=[f"{o.prefix}.queue.>"],
            retention=api.RetentionPolicy.WORK_QUEUE, storage=api.StorageType.FILE,
            duplicate_window=120))
        await self._ensure_stream(api.StreamConfig(
            name=self.dead_stream, subjects=[f"{o.prefix}.dead.>"],
            retention=api.RetentionPolicy.LIMITS, storage=api.StorageType.FILE,
            duplicate_window=120))
        if self.journal_stream:
            await self._ensure_stream(api.StreamConfig(
                name=self.journal_stream, subjects=[f"{o.prefix}.journal.>"],
                retention=api.RetentionPolicy.LIMITS, storage=api.StorageType.FILE,
                max_msgs_per_subject=1, max_age=o.journal_age, max_msgs=1_000_000))
        config = api.ConsumerConfig(
            durable_name=self.consumer, ack_policy=api.AckPolicy.EXPLICIT, ack_wait=o.ack_wait,
            max_deliver=-1, max_ack_pending=65536, filter_subject=f"{o.prefix}.queue.>")
        try:
            await self.js.add_consumer(self.queue_stream, config)
        except BadRequestError:  # exists with other settings (an older instance): use it as is
            await self.js.consumer_info(self.queue_stream, self.consumer)

    async def _ensure_stream(self, config: api.StreamConfig) -> None:
        assert config.name is not None
        try:
            info = await self.js.stream_info(config.name)
        except NotFoundError:
            try:
                await self.js.add_stream(config)
                return
            except BadRequestError:  # another instance created it a moment ago
                info = await self.js.stream_info(config.name)
        if info.config.retention != config.retention:
            raise ValueError(f"NATS stream {config.name} exists with retention "
                             f"{info.config.retention}, bridge needs {config.retention}")

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        for msg, _ in list(self._held.values()):  # unfinished: hand back now, not after ack_wait
            with contextlib.suppress(Exception):
                await msg.nak(delay=0.01)  # a plain NAK of the last delivery may not count it
        self._held.clear()
        if self._nc is not None:
            nc, self._nc, self._js = self._nc, None, None
            with contextlib.suppress(Exception):
                await nc.flush(timeout=2)   # the acks and naks above reach the server
            with contextlib.suppress(Exception):
                await nc.close()

    async def ping(self) -> bool:
        if self._nc is None or not self._nc.is_connected:
            return False
        try:
            await self.js.stream_info(self.queue_stream)
            return True
        except Exception:
            return False

    async def recover(self) -> int:
        """Nothing to do: JetStream redelivers a dead instance's un-acked messages after ack_wait."""
        return 0

    # -- the queue -------------------------------------------------------------------------

    def _subject(self, kind: str, route: str) -> str:
        return f"{self.opts.prefix}.{kind}.{route_token(route)}"

    async def enqueue(self, record: Record) -> None:
        if record.ordered_key is not None:
            raise ValueError("ordered_by is not supported by the nats store")
        now = time.time()
        record.created_at = record.updated_at = now
        try:
            ack = await self.js.publish(self._subject("queue", record.route), record.body,
                                        headers=self._headers(record, record.id))
        except MaxPayloadError:
            limit = self._nc.max_payload if self._nc else 0
            raise TooLarge(f"request too large for the delivery queue (NATS max_payload "
                           f"{limit} bytes)") from None
        except (NatsError, asyncio.TimeoutError) as exc:  # not committed: the caller may retry
            raise Unavailable(f"the delivery store is unavailable ({exc})",
                              code="store_unavailable") from None
        record.seq = ack.seq

    def _headers(self, record: Record, msg_id: str) -> dict[str, str]:
        meta = {"route": record.route, "target": record.target, "method": record.method,
                "path": record.path, "headers": record.headers, "created_at": record.created_at}
        return {"Nats-Msg-Id": msg_id, "Bridge-Id": record.id, "Bridge-Record": _b64(meta)}

    async def claim(self, limit: int, now: float) -> list[Record]:
        if self._sub is None:
            self._sub = await self.js.pull_subscribe_bind(self.consumer, self.queue_stream)
            self._keepalive = asyncio.create_task(self._keep_claims(), name="bridge-nats-keepalive")
        try:
            msgs = await self._sub.fetch(max(limit, 1), timeout=self.opts.fetch_wait)
        except asyncio.TimeoutError:  # nats.errors.TimeoutError is one
            return []
        records = []
        for msg in msgs:
            record = _from_msg(msg.headers or {}, msg.data, msg.metadata.sequence.stream)
            record.status, record.attempts = "inflight", msg.metadata.num_delivered - 1
            self._held[record.id] = (msg, record)
            records.append(record)
        # a redelivery overwrites the journal's "pending, retry at ..." so listings say in flight
        again = [r for r in records if r.attempts > 0]
        if again:
            await asyncio.gather(*(self._journal(r, "inflight") for r in again),
                                 return_exceptions=True)
        return records

    async def _keep_claims(self) -> None:
        """While this instance is alive its claims stay its own, however slow the target."""
        interval = max(self.opts.ack_wait / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            for msg, _ in list(self._held.values()):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def delivered(self, id: str, reply_status: int | None) -> None:
        held = self._held.pop(id, None)
        if held is None:
            return
        msg, record = held
        await self._journal(record, "delivered", attempts=record.attempts + 1,
                            reply_status=reply_status)
        await msg.ack_sync(timeout=5)   # delivered means JetStream has forgotten it

    async def retry(self, id: str, error: str, next_at: float, reply_status: int | None) -> None:
        held = self._held.pop(id, None)
        if held is None:
            return
        msg, record = held
        await self._journal(record, "pending", attempts=record.attempts + 1, last_error=error,
                            next_at=next_at, reply_status=reply_status)
        await msg.nak(delay=max(next_at - time.time(), 0.001))
        await self._flush()

    async def dead(self, id: str, error: str, reply_status: int | None) -> None:
        """Dead-letter stream first, then term: a crash between the two redelivers the message
        (at least once) rather than losing it."""
        held = self._held.pop(id, None)
        if held is None:
            return
        msg, record = held
        record.status, record.attempts = "dead", record.attempts + 1
        record.last_error, record.reply_status, record.updated_at = error, reply_status, time.time()
        headers = self._headers(record, f"{record.id}.dead.{record.seq}")
        headers["Bridge-State"] = _b64({"attempts": record.attempts, "last_error": error,
                                        "reply_status": reply_status, "updated_at": record.updated_at})
        await self.js.publish(self._subject("dead", record.route), record.body, headers=headers)
        await self._journal(record, "dead", attempts=record.attempts, last_error=error,
                            reply_status=reply_status)
        await msg.term()
        await self._flush()

    async def _flush(self) -> None:
        """Acks without a reply (nak, term) are fire-and-forget: a round trip makes them land
        before the worker moves on, so depth and listings agree with what was just done."""
        assert self._nc is not None
        await self._nc.flush(timeout=5)

    async def _journal(self, record: Record, status: str, **fields: Any) -> None:
        """Written before the ack/nak/publish it describes: once that lands, another instance
        may act on the message at once, and its journal entry must be the later one."""
        if self.journal_stream is None:
            return
        row = {**record.summary(), "status": status, "updated_at": time.time(), "seq": record.seq,
               **fields}
        await self.js.publish(f"{self.opts.prefix}.journal.{record.id}", orjson.dumps(row))

    async def replay(self, *, ids: list[str] | None = None, route: str | None = None) -> int:
        """Dead letters back into the work queue under a fresh ``Nats-Msg-Id`` (so de-duplication
        does not drop them) but the same message id, hence the same Idempotency-Key."""
        wanted = set(ids or ())
        subject = self._subject("dead", route) if route else f"{self.opts.prefix}.dead.>"
        moved = 0
        async for raw in self._scan(self.dead_stream, subject):
            record = _from_msg(raw.headers or {}, raw.data or b"", raw.seq or 0)
            if wanted and record.id not in wanted:
                continue
            record.seq = 0
            await self._journal(record, "pending", attempts=0, last_error=None, next_at=0.0)
            await self.js.publish(self._subject("queue", record.route), record.body,
                                  headers=self._headers(record, f"{record.id}.r{raw.seq}"))
            await self.js.delete_msg(self.dead_stream, raw.seq or 0)
            moved += 1
        return moved

    # -- what operators see ----------------------------------------------------------------

    async def _scan(self, stream: str, subject: str) -> AsyncIterator[api.RawStreamMsg]:
        """Every message of ``stream`` on ``subject``, oldest first, one request each."""
        seq = 1
        while True:
            try:
                raw = await self.js.get_msg(stream, seq=seq, subject=subject, next=True)
            except NotFoundError:
                return
            yield raw
            seq = (raw.seq or seq) + 1

    async def _journal_row(self, id: str) -> dict[str, Any] | None:
        if self.journal_stream is None:
            return None
        try:
            raw = await self.js.get_msg(self.journal_stream, subject=f"{self.opts.prefix}.journal.{id}")
        except NotFoundError:
            return None
        return orjson.loads(raw.data or b"{}")

    async def _queued(self, route: str | None) -> AsyncIterator[Record]:
        """Undelivered messages. Never handed out yet = pending; handed out and waiting for a
        retry (the journal says so) = pending; otherwise some instance has it in flight."""
        info = await self.js.consumer_info(self.queue_stream, self.consumer)
        handed_out = info.delivered.stream_seq if info.delivered else 0
        subject = self._subject("queue", route) if route else f"{self.opts.prefix}.queue.>"
        async for raw in self._scan(self.queue_stream, subject):
            record = _from_msg(raw.headers or {}, raw.data or b"", raw.seq or 0)
            if record.seq > handed_out:
                yield record
                continue
            row = await self._journal_row(record.id) or {}
            if row.get("status") == "pending":
                _apply(record, row)
            else:
                record.status = "inflight"
                if row.get("status") == "inflight":
                    record.attempts = row.get("attempts", 0)
            yield record

    async def _dead(self, route: str | None) -> AsyncIterator[Record]:
        subject = self._subject("dead", route) if route else f"{self.opts.prefix}.dead.>"
        async for raw in self._scan(self.dead_stream, subject):
            yield _from_msg(raw.headers or {}, raw.data or b"", raw.seq or 0)

    async def _delivered(self, route: str | None) -> AsyncIterator[Record]:
        if self.journal_stream is None:
            return
        async for raw in self._scan(self.journal_stream, f"{self.opts.prefix}.journal.>"):
            row = orjson.loads(raw.data or b"{}")
            if row.get("status") == "delivered" and (route is None or row.get("route") == route):
                yield _from_row(row)

    async def list(self, *, status: str | None = None, route: str | None = None,
                   limit: int = 100) -> list[Record]:
        out: list[Record] = []
        sources = []
        if status in (None, "pending", "inflight"):
            sources.append(self._queued(route))
        if status in (None, "dead"):
            sources.append(self._dead(route))
        if status in (None, "delivered"):
            sources.append(self._delivered(route))
        for source in sources:
            found = 0
            async for record in source:
                if status is None or record.status == status:
                    out.append(record)
                    found += 1
                    if found >= limit:
                        break
        out.sort(key=lambda r: r.created_at)
        return out[:limit]

    async def get(self, id: str) -> Record | None:
        """Undelivered or dead: found in its stream with its body. Delivered: only the journal
        knows it, without the body (the work queue dropped it on ack)."""
        row = await self._journal_row(id)
        route = row.get("route") if row else None
        if row is None or row.get("status") != "delivered":
            async for record in self._queued(route):
                if record.id == id:
                    return record
            async for record in self._dead(route):
                if record.id == id:
                    return record
        return _from_row(row) if row else None

    async def depth(self) -> dict[str, int]:
        """Undelivered per route: the work queue holds exactly the messages not yet acked."""
        prefix = f"{self.opts.prefix}.queue."
        info = await self.js.stream_info(self.queue_stream, subjects_filter=prefix + ">")
        out: dict[str, int] = {}
        for subject, n in (info.state.subjects or {}).items():
            route = token_route(subject[len(prefix):])
            out[route] = out.get(route, 0) + n
        return out


def _from_msg(headers: dict[str, str], body: bytes, seq: int) -> Record:
    meta = _unb64(headers.get("Bridge-Record"))
    state = _unb64(headers.get("Bridge-State"))
    record = Record(id=headers.get("Bridge-Id", ""), route=meta.get("route", ""),
                    target=meta.get("target", ""), method=meta.get("method", "POST"),
                    path=meta.get("path", ""), headers=meta.get("headers", {}), body=body,
                    created_at=meta.get("created_at", 0.0), seq=seq)
    record.updated_at = record.created_at
    if state:
        record.status = "dead"
        _apply(record, state)
    return record


def _apply(record: Record, row: dict[str, Any]) -> None:
    for name in ("status", "attempts", "last_error", "reply_status", "next_at", "updated_at"):
        if name in row:
            setattr(record, name, row[name])


def _from_row(row: dict[str, Any]) -> Record:
    record = Record(id=row["id"], route=row.get("route", ""), target=row.get("target", ""),
                    method=row.get("method", "POST"), path=row.get("path", ""), headers={}, body=b"",
                    created_at=row.get("created_at", 0.0), seq=row.get("seq", 0))
    _apply(record, row)
    return record
