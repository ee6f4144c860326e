"""bridge.listen: every waiting connection accepted in one wake-up, on asyncio and on uvloop.

uvloop on its own accepts one connection per loop iteration, so on a busy bridge a burst of N
new callers waited N iterations for their first request to be read (bench/README.md). The
tests count loop iterations, not time: a callback re-scheduling itself runs once per iteration.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from bridge.listen import Listener, listening_sockets
from bridge.workers import loop_factory

BURST = 40
LOOPS = ["asyncio", "uvloop"]                     # uvloop is a dependency (pyproject.toml)


def run_on(loop_name: str, main: Any) -> Any:
    with asyncio.Runner(loop_factory=loop_factory(loop_name)) as runner:
        return runner.run(main())


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_burst_of_connections_is_taken_in_one_wake_up(loop_name: str) -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        iteration = [0]
        made: list[int] = []
        done = asyncio.Event()

        def tick() -> None:                      # once per loop iteration
            iteration[0] += 1
            if not done.is_set():
                loop.call_soon(tick)

        class Recorder(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                made.append(iteration[0])
                if len(made) == BURST:
                    done.set()

        server = Listener(listening_sockets("127.0.0.1", 0, backlog=1024), Recorder)
        port = server.sockets[0].getsockname()[1]
        callers = []
        try:
            for _ in range(BURST):               # the kernel completes them before we accept
                c = socket.socket()
                c.connect(("127.0.0.1", port))
                callers.append(c)
            loop.call_soon(tick)
            await asyncio.wait_for(done.wait(), 10)
        finally:
            for c in callers:
                c.close()
            server.close()
            await server.wait_closed()
        return made

    made = run_on(loop_name, main)
    assert len(made) == BURST
    # accepted in one reader callback; connection_made follows one iteration later at most
    assert max(made) - min(made) <= 2, made


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_site_on_an_ephemeral_port_answers_http(loop_name: str) -> None:
    from aiohttp import web

    from bridge.listen import ListenSite

    async def main() -> tuple[int, str, bool]:
        async def hello(request: web.BaseRequest) -> web.Response:
            return web.Response(text="hello " + request.path)

        runner = web.ServerRunner(web.Server(hello))
        await runner.setup()
        site = ListenSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/x") as r:
                status, text = r.status, await r.text()
        finally:
            await runner.cleanup()
        with socket.socket() as probe:           # the port is released on cleanup
            refused = probe.connect_ex(("127.0.0.1", port)) != 0
        return status, text, refused

    assert run_on(loop_name, main) == (200, "hello /x", True)


def test_port_zero_on_several_addresses_is_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that resolves to several addresses (``localhost`` to 127.0.0.1 and ::1, say) gets
    one ephemeral port on all of them. Made reproducible on any machine: the resolver answers
    127.0.0.1 twice (TCP, then protocol 0), and SO_REUSEPORT lets the second bind succeed only
    on the port the first one got."""
    real = socket.getaddrinfo

    def two_answers(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        (family, kind, proto, name, addr), *_ = real("127.0.0.1", port, *args, **kwargs)
        return [(family, kind, socket.IPPROTO_TCP, name, addr), (family, kind, 0, name, addr)]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    socks = listening_sockets("twice.example", 0, backlog=16, reuse_port=True)
    try:
        assert len(socks) == 2
        ports = {s.getsockname()[1] for s in socks}
        assert len(ports) == 1 and 0 not in ports
    finally:
        for s in socks:
            s.close()


def test_reuse_port_lets_two_workers_bind_the_same_port() -> None:
    first = listening_sockets("127.0.0.1", 0, backlog=16, reuse_port=True)
    port = first[0].getsockname()[1]
    try:
        second = listening_sockets("127.0.0.1", port, backlog=16, reuse_port=True)
        assert second[0].getsockname()[1] == port
        second[0].close()
        with pytest.raises(OSError):             # without SO_REUSEPORT the port is taken
            listening_sockets("127.0.0.1", port, backlog=16)
    finally:
        first[0].close()
