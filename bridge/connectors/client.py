"""The outbound HTTP/1.1 client: one keep-alive connection pool per origin, replies parsed by httptools.

Every target call is the same shape: one request with a body in memory, one reply read whole.
aiohttp's ``ClientSession`` is general (cookies, redirects, proxies, tracing, streaming); measured
under W1 (bench/README.md) it cost ~350k instructions per call, more than everything the route
itself does. Here a call is one write of a ready request and a parse by llhttp (httptools, the
parser uvicorn uses), ~35k instructions.

What a serious client must still do, it does:
- keep-alive with a bounded number of idle connections per origin, closed after ``keepalive``
  seconds of idleness or as soon as the server closes them;
- one deadline per call covering connect, write and the whole reply;
- a reply that is not valid HTTP, larger than ``MAX_REPLY`` or cut short is an error, and that
  connection is never reused;
- a *reused* connection that the server closed before sending one byte (the keep-alive race:
  the server timed it out while our request was on its way) is retried once on a new
  connection: the server never read that request;
- ``gzip``/``deflate`` replies are decoded (bounded), HTTPS verifies certificates (the system's
  trust store, ``SSL_CERT_FILE`` honoured), interim ``1xx`` replies are skipped.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httptools

#: Largest reply body read from a target (after decompression).
MAX_REPLY = 64 * 1024 * 1024
#: Idle connections kept per origin, and how long one may stay idle.
MAX_IDLE = 256
KEEPALIVE = 30.0


class ClientError(Exception):
    """A call failed below HTTP. ``kind`` names the failure in the words users already see in
    error messages and route tests (``cannot reach target X: ClientConnectorError``)."""

    kind = "ClientError"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.kind)
        self.detail = detail


class ConnectFailed(ClientError):
    kind = "ClientConnectorError"


class Disconnected(ClientError):
    """The server closed the connection before the reply was complete."""

    kind = "ServerDisconnectedError"


class BadReply(ClientError):
    """The reply is not valid HTTP, or too large."""

    kind = "ClientResponseError"


class _Stale(Exception):
    """A reused connection was closed before any byte of the reply: safe to send again."""


@dataclass(slots=True)
class Response:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    base_path: str
    #: ``Authorization`` value from credentials in the URL (``http://user:pass@host``), or ""
    authorization: str = field(default="", compare=False, repr=False)

    @classmethod
    def parse(cls, url: str) -> "Origin":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        auth = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), auth)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


_SAFE = "/:@!$&'()*+,;=-._~%?#[]"


def request_target(base_path: str, path: str) -> str:
    """The request-target for ``path`` under the target's base path, non-ASCII percent-encoded."""
    full = base_path + (path if path.startswith("/") else "/" + path)
    return full if full.isascii() and " " not in full else quote(full, safe=_SAFE)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; at most one request in flight on it."""

    __slots__ = ("pool", "transport", "parser", "waiter", "status", "content_type", "encoding",
                 "framed", "chunks", "size", "got_bytes", "headers_done", "closed", "served",
                 "idle_since")

    def __init__(self, pool: "Pool") -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self.closed = False
        self.served = 0
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.content_type = b""
        self.encoding = b""
        self.framed = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.got_bytes = False
        self.headers_done = False

    # -- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:     # bytes while idle, or after the reply: not to be trusted
            self.abort()
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadReply("the target switched protocols"))
        except httptools.HttpParserError as exc:
            cause = exc.__cause__ or exc.__context__
            self._fail(cause if isinstance(cause, ClientError) else BadReply(f"invalid HTTP reply: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.lost(self)
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if self.headers_done and not self.framed:   # body delimited by the close (HTTP/1.0 style)
            try:
                waiter.set_result((self._response(), False))
            except ClientError as bad:
                waiter.set_exception(bad)
        elif self.served and not self.got_bytes:
            waiter.set_exception(_Stale())
        else:
            waiter.set_exception(Disconnected(
                "connection closed before the reply was complete" + (f" ({exc})" if exc else "")))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        if self.waiter is None:      # a second reply to one request
            raise BadReply("the target sent more than one reply")

    def on_header(self, name: bytes, value: bytes) -> None:
        low = name.lower()
        if low == b"content-type":
            self.content_type = value
        elif low == b"content-encoding":
            self.encoding = value.strip().lower()
        elif low == b"content-length" or low == b"transfer-encoding":
            self.framed = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_REPLY:
            raise BadReply(f"reply larger than {MAX_REPLY // (1024 * 1024)} MiB")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:     # interim reply (100 Continue, 103): the real one follows
            self._reset()
            self.got_bytes = True
            return
        response = self._response()        # may raise BadReply: the waiter is failed with it
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((response, self.parser.should_keep_alive()))

    def _response(self) -> Response:
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self.encoding and self.encoding != b"identity" and body:
            body = _decode(body, self.encoding)
        return Response(self.status, self.content_type.decode("latin-1"), body)

    # -- the call (driven by Pool.send)
    def start(self, data: list[bytes], deadline: float) -> tuple[asyncio.Future[Any], Any]:
        """Write one request; the future gets (reply, keep-alive?) or the failure."""
        loop = self.pool.loop
        self._reset()
        waiter = self.waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        assert self.transport is not None
        self.transport.writelines(data)
        return waiter, timer

    def done(self, keep: bool) -> None:
        """The reply is complete: back to the pool only when both sides keep it alive."""
        self.served += 1
        if keep and not self.closed:
            self.pool.release(self)
        else:
            self.pool.busy.discard(self)
            self.close()

    def failed(self) -> None:
        self.waiter = None
        self.abort()
        self.pool.busy.discard(self)

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _decode(body: bytes, encoding: bytes) -> bytes:
    """gzip/deflate reply bodies, bounded by MAX_REPLY (a small bomb must not fill memory)."""
    if encoding in (b"gzip", b"x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == b"deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib or raw
    else:
        raise BadReply(f"unsupported Content-Encoding {encoding.decode('latin-1')!r}")
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, MAX_REPLY)
    except zlib.error as exc:
        raise BadReply(f"reply body is not valid {encoding.decode('latin-1')}: {exc}") from None
    if d.unconsumed_tail:
        raise BadReply(f"reply larger than {MAX_REPLY // (1024 * 1024)} MiB once decompressed")
    return out


class Pool:
    """Keep-alive connections to one origin. In-flight calls are bounded by each target's own
    bulkhead (``concurrency``); the pool keeps up to ``max_idle`` of them open between calls."""

    def __init__(self, origin: Origin, ssl_context: ssl.SSLContext | None, *,
                 max_idle: int = MAX_IDLE, keepalive: float = KEEPALIVE) -> None:
        self.origin = origin
        self.ssl = ssl_context
        self.max_idle, self.keepalive = max_idle, keepalive
        self.idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._swept = 0.0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def send(self, data: list[bytes], timeout: float) -> Response:
        """One request (``data``: the head and the body) -> the whole reply. Raises ClientError
        or TimeoutError."""
        deadline = self.loop.time() + timeout
        conn = self._take()
        if conn is None:
            conn = await self._connect(deadline)
        for fresh in (conn.served == 0, True):
            waiter, timer = conn.start(data, deadline)
            try:
                response, keep = await waiter
            except _Stale:   # the server had closed it: it never read this request
                conn.failed()
                if fresh:
                    raise Disconnected("connection closed before the reply was complete") from None
                conn = await self._connect(deadline)
                continue     # once, on a new connection (never stale)
            except BaseException:
                conn.failed()
                raise
            finally:
                timer.cancel()
            conn.done(keep)
            return response
        raise AssertionError("unreachable")

    def _take(self) -> _Connection | None:
        idle = self.idle
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.closed or now - conn.idle_since > self.keepalive:
                conn.close()
                continue
            self.busy.add(conn)
            return conn
        return None

    async def _connect(self, deadline: float) -> _Connection:
        o = self.origin
        loop = self.loop
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self), o.host, o.port, ssl=self.ssl,
                    server_hostname=o.host if self.ssl is not None else None)
        except ssl.SSLError as exc:
            raise ConnectFailed(f"TLS handshake with {o.host}:{o.port} failed: "
                                f"{exc.reason or exc}") from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {o.host}:{o.port}: "
                                f"{exc.strerror or exc}") from None
        self.busy.add(conn)
        return conn

    def release(self, conn: _Connection) -> None:
        self.busy.discard(conn)
        if self.closing or len(self.idle) >= self.max_idle:
            conn.close()
            return
        now = conn.idle_since = self.loop.time()
        self.idle.append(conn)
        if now - self._swept > self.keepalive:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._swept = now
        keep = []
        for conn in self.idle:
            if conn.closed or now - conn.idle_since > self.keepalive:
                conn.close()
            else:
                keep.append(conn)
        self.idle[:] = keep

    def lost(self, conn: _Connection) -> None:
        """The server (or we) closed ``conn``: it must never be handed out again."""
        self.busy.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        self.closing = True
        for conn in [*self.idle, *self.busy]:
            conn.close()
        self.idle.clear()

    @property
    def open_connections(self) -> int:
        return len(self.idle) + len(self.busy)


class HttpClient:
    """The app's one outbound client: a pool per origin, shared by every target (and kept
    across config reloads, so a reload does not drop warm connections)."""

    def __init__(self, *, max_idle: int = MAX_IDLE, keepalive: float = KEEPALIVE) -> None:
        self.pools: dict[Origin, Pool] = {}
        self.max_idle, self.keepalive = max_idle, keepalive
        self._ssl: ssl.SSLContext | None = None

    def pool(self, origin: Origin) -> Pool:
        pool = self.pools.get(origin)
        if pool is None:
            ctx = self._tls() if origin.scheme == "https" else None
            pool = self.pools[origin] = Pool(origin, ctx, max_idle=self.max_idle,
                                             keepalive=self.keepalive)
        return pool

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
        await asyncio.sleep(0)   # let the transports run their close callbacks
