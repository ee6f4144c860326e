"""The listening sockets, and an accept loop that takes every waiting connection at once.

uvloop (libuv) accepts one connection per event-loop iteration. On a busy bridge an iteration
takes milliseconds — it carries every request in flight — so when callers open connections in
a burst (a HIS reconnecting after a restart, a load balancer refilling its pool, a load test
starting) the last of N connections waits N iterations before its first request is even read:
measured at 200 connections, p99 0.3–0.8 s against 55 ms on asyncio, whose own accept loop
takes up to ``backlog`` connections per wake-up (bench/README.md). `Listener` does that on any
loop: one reader callback accepts until the queue is empty and hands each socket to
``loop.connect_accepted_socket``. Used by ``bridge serve`` and ``bridge.testing``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any, Callable

import structlog
from aiohttp import web
from yarl import URL

log = structlog.get_logger("bridge")

# accept() failing (out of file descriptors or memory, mostly): stop accepting for a moment
# instead of spinning on a listen socket that stays readable (asyncio does the same, as long)
_RETRY_DELAY = 1.0


def listening_sockets(host: str | None, port: int, *, backlog: int,
                      reuse_port: bool = False) -> list[socket.socket]:
    """Bound, listening, non-blocking sockets for every address ``host`` resolves to."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in dict.fromkeys(infos):
            s = socket.socket(family, kind, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr[0], port, *addr[2:]))
            port = port or s.getsockname()[1]   # port 0 on several addresses: one port for all
            s.listen(backlog)
            s.setblocking(False)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


class Listener(asyncio.AbstractServer):
    """Accepts on ``socks`` until each queue is empty, per readiness event, on any event loop."""

    def __init__(self, socks: list[socket.socket], factory: Callable[[], asyncio.Protocol]) -> None:
        self._loop = asyncio.get_running_loop()
        self._socks = socks
        self._factory = factory
        self._pending: set[asyncio.Task[Any]] = set()
        self._serving = False
        self._closed = False
        self.start()

    # --- asyncio.AbstractServer ---------------------------------------------------------
    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._socks)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self.start()

    async def serve_forever(self) -> None:
        self.start()
        await asyncio.Event().wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop()
        for s in self._socks:
            s.close()

    async def wait_closed(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    # --- the accept loop -----------------------------------------------------------------
    def start(self) -> None:
        if self._serving or self._closed:
            return
        self._serving = True
        for s in self._socks:
            self._loop.add_reader(s.fileno(), self._accept, s)

    def _stop(self) -> None:
        if self._serving:
            self._serving = False
            for s in self._socks:
                self._loop.remove_reader(s.fileno())

    def _accept(self, listening: socket.socket) -> None:
        while True:
            try:
                conn, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue                    # the caller gave up while queued: next one
            except OSError as exc:
                log.warning("accept_paused", error=str(exc), errno=errno.errorcode.get(exc.errno or 0),
                            retry_s=_RETRY_DELAY)
                self._stop()
                self._loop.call_later(_RETRY_DELAY, self.start)
                return
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._connect(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:                     # reset between accept() and the transport
            conn.close()


class ListenSite(web.BaseSite):
    """aiohttp's TCPSite, accepting through `Listener`."""

    __slots__ = ("_host", "_port", "_reuse_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, backlog: int = 1024,
                 reuse_port: bool = False) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port, self._reuse_port = host, port, reuse_port

    @property
    def name(self) -> str:
        port = self._server.sockets[0].getsockname()[1] if self._server else self._port
        return str(URL.build(scheme="http", host=self._host or "0.0.0.0", port=port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        socks = listening_sockets(self._host, self._port, backlog=self._backlog,
                                  reuse_port=self._reuse_port)
        self._server = Listener(socks, server)
