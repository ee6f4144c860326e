"""The outbound client against real servers on loopback that send exactly the bytes a test
chooses: keep-alive, framing, the keep-alive race, broken replies, timeouts, TLS."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
import zlib
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from bridge.connectors import client as client_mod
from bridge.config.models import TargetConfig
from bridge.connectors.client import (BadReply, ConnectFailed, Disconnected, HttpClient, Origin,
                                      request_target)
from bridge.connectors.http import HttpTarget
from bridge.errors import UpstreamError, UpstreamTimeout
from bridge.observability.metrics import Metrics
from tests.conftest import missing_tool

Reply = Callable[[bytes], Awaitable[bytes | None]]


class RawServer:
    """Reads one request at a time (head + Content-Length body) and answers what ``reply``
    returns for it; ``None`` closes the connection without answering."""

    def __init__(self, reply: Callable[["RawServer", bytes], Awaitable[bytes | None]]) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.close_after_reply = False

    async def start(self, ssl_ctx: ssl.SSLContext | None = None) -> "RawServer":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await r.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + (await r.readexactly(length) if length else b"")
                self.requests.append(request)
                out = await self.reply(self, request)
                if out is None:
                    return
                w.write(out)
                await w.drain()
                if self.close_after_reply:
                    return
        finally:
            w.close()

    def origin(self, scheme: str = "http", base: str = "") -> Origin:
        return Origin(scheme, "127.0.0.1", self.port, base)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


async def answer_ok(server: RawServer, request: bytes) -> bytes | None:
    return ok()


def head(request: bytes) -> list[bytes]:
    return request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    yield c
    await c.close()


async def serve(reply: Callable[[RawServer, bytes], Awaitable[bytes | None]]) -> RawServer:
    return await RawServer(reply).start()


def request(path: str = "/p", body: bytes = b"{}") -> list[bytes]:
    return [b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body),
            body]


async def test_keep_alive_one_connection_for_sequential_calls(client: HttpClient) -> None:
    server = await serve(answer_ok)
    pool = client.pool(server.origin())
    for _ in range(20):
        resp = await pool.send(request(), 2)
        assert (resp.status, resp.content_type, resp.body) == (200, "application/json", b'{"ok": true}')
    assert server.connections == 1 and len(server.requests) == 20
    assert pool.open_connections == 1
    await server.close()


async def test_concurrent_calls_open_connections_and_keep_them(client: HttpClient) -> None:
    async def slow(server: RawServer, request: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return ok()
    server = await serve(slow)
    pool = client.pool(server.origin())
    await asyncio.gather(*(pool.send(request(), 2) for _ in range(8)))
    assert server.connections == 8 and len(pool.idle) == 8
    await asyncio.gather(*(pool.send(request(), 2) for _ in range(8)))
    assert server.connections == 8, "the second wave reuses the idle connections"
    await server.close()


async def test_chunked_reply_and_interim_100_continue(client: HttpClient) -> None:
    async def chunked(server: RawServer, request: bytes) -> bytes:
        return (b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 201 Created\r\nContent-Type: text/xml; charset=GBK\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\n<a>1<\r\n4\r\n/a>x\r\n0\r\n\r\n")
    server = await serve(chunked)
    pool = client.pool(server.origin())
    resp = await pool.send(request(), 2)
    assert (resp.status, resp.content_type, resp.body) == (201, "text/xml; charset=GBK", b"<a>1</a>x")
    resp = await pool.send(request(), 2)
    assert resp.status == 201 and server.connections == 1
    await server.close()


async def test_reply_delimited_by_close_and_connection_close_are_not_reused(client: HttpClient) -> None:
    async def http10(server: RawServer, request: bytes) -> bytes:
        server.close_after_reply = True
        if len(server.requests) % 2:
            return b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
        return ok(extra=b"Connection: close\r\n")
    server = await serve(http10)
    pool = client.pool(server.origin())
    first = await pool.send(request(), 2)
    second = await pool.send(request(), 2)
    assert first.body == b"until the end" and second.body == b'{"ok": true}'
    assert server.connections == 2 and pool.open_connections == 0
    await server.close()


async def test_keep_alive_race_resends_once_on_a_new_connection(client: HttpClient) -> None:
    """The server closes an idle keep-alive connection without saying so: the next call finds
    it dead before any byte of a reply, and goes out again on a fresh connection."""
    async def then_close(server: RawServer, request: bytes) -> bytes:
        server.close_after_reply = True   # ... but the reply says keep-alive
        return ok()
    server = await serve(then_close)
    pool = client.pool(server.origin())
    await pool.send(request(), 2)
    await asyncio.sleep(0.05)            # the close reaches us while the connection is idle
    await pool.send(request(), 2)
    assert server.connections == 2 and len(server.requests) == 2
    await server.close()


async def test_a_reused_connection_closed_without_a_byte_of_reply_is_resent_once(
        client: HttpClient) -> None:
    """The race seen from our side: the server closes the reused connection as the request
    arrives, answering nothing; the request goes out again, once, on a new connection."""
    async def hang_up_on_second(server: RawServer, request: bytes) -> bytes | None:
        return None if len(server.requests) == 2 else ok()
    server = await serve(hang_up_on_second)
    pool = client.pool(server.origin())
    await pool.send(request(), 2)
    resp = await pool.send(request(), 2)
    assert resp.status == 200
    assert server.connections == 2 and len(server.requests) == 3
    await server.close()


async def test_a_reply_cut_short_is_an_error_and_never_resent(client: HttpClient) -> None:
    async def cut(server: RawServer, request: bytes) -> bytes:
        server.close_after_reply = True
        return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    server = await serve(cut)
    pool = client.pool(server.origin())
    with pytest.raises(Disconnected, match="before the reply was complete"):
        await pool.send(request(), 2)
    assert len(server.requests) == 1 and pool.open_connections == 0
    await server.close()


async def test_no_reply_on_a_new_connection_is_an_error_not_a_retry(client: HttpClient) -> None:
    async def hang_up(server: RawServer, request: bytes) -> None:
        return None
    server = await serve(hang_up)
    with pytest.raises(Disconnected):
        await client.pool(server.origin()).send(request(), 2)
    assert len(server.requests) == 1
    await server.close()


async def test_timeout_covers_the_whole_reply_and_drops_the_connection(client: HttpClient) -> None:
    async def trickle(server: RawServer, request: bytes) -> bytes:
        await asyncio.sleep(1)
        return ok()
    server = await serve(trickle)
    pool = client.pool(server.origin())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await pool.send(request(), 0.2)
    assert 0.15 < loop.time() - started < 0.9
    assert pool.open_connections == 0
    await server.close()


async def test_connection_refused(client: HttpClient) -> None:
    server = await serve(answer_ok)
    origin = server.origin()
    await server.close()
    with pytest.raises(ConnectFailed, match="cannot connect to 127.0.0.1") as info:
        await client.pool(origin).send(request(), 2)
    assert info.value.kind == "ClientConnectorError"


@pytest.mark.parametrize("garbage", [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
async def test_invalid_http_is_a_bad_reply(client: HttpClient, garbage: bytes) -> None:
    async def bad(server: RawServer, request: bytes) -> bytes:
        return garbage
    server = await serve(bad)
    pool = client.pool(server.origin())
    with pytest.raises(BadReply, match="invalid HTTP reply"):
        await pool.send(request(), 2)
    assert pool.open_connections == 0
    await server.close()


async def test_bytes_after_the_reply_poison_the_connection(client: HttpClient) -> None:
    async def two(server: RawServer, request: bytes) -> bytes:
        return ok() + ok(b"second")
    server = await serve(two)
    pool = client.pool(server.origin())
    resp = await pool.send(request(), 2)
    assert resp.body == b'{"ok": true}'
    await pool.send(request(), 2)
    assert server.connections == 2, "the connection that carried two replies was not reused"
    await server.close()


async def test_gzip_and_deflate_replies_are_decoded(client: HttpClient) -> None:
    payload = "转诊 ok".encode() * 100
    bodies = [gzip.compress(payload), zlib.compress(payload),
              zlib.compress(payload)[2:-4]]   # zlib-wrapped and raw deflate both occur
    encodings = [b"gzip", b"deflate", b"deflate"]

    async def compressed(server: RawServer, request: bytes) -> bytes:
        i = len(server.requests) - 1
        return ok(bodies[i], b"Content-Encoding: " + encodings[i] + b"\r\n")
    server = await serve(compressed)
    pool = client.pool(server.origin())
    for _ in bodies:
        assert (await pool.send(request(), 2)).body == payload
    await server.close()


async def test_replies_are_bounded_also_once_decompressed(client: HttpClient,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "MAX_REPLY", 1000)
    bomb = gzip.compress(b"\0" * 100_000)

    async def big(server: RawServer, request: bytes) -> bytes:
        if len(server.requests) == 1:
            return ok(b"x" * 5000)
        return ok(bomb, b"Content-Encoding: gzip\r\n")
    server = await serve(big)
    pool = client.pool(server.origin())
    with pytest.raises(BadReply, match="reply larger than"):
        await pool.send(request(), 2)
    with pytest.raises(BadReply, match="once decompressed"):
        await pool.send(request(), 2)
    await server.close()


async def test_idle_connections_expire_and_are_bounded() -> None:
    client = HttpClient(max_idle=2, keepalive=0.1)
    server = await serve(answer_ok)
    pool = client.pool(server.origin())
    await asyncio.gather(*(pool.send(request(), 2) for _ in range(4)))
    assert len(pool.idle) == 2, "only max_idle connections stay open between calls"
    await asyncio.sleep(0.2)
    await pool.send(request(), 2)
    assert server.connections == 5, "an idle connection past keepalive is not reused"
    await client.close()
    assert pool.open_connections == 0
    await server.close()


def test_request_target_and_host_header() -> None:
    assert request_target("", "/referral/apply") == "/referral/apply"
    assert request_target("/base", "x?a=1") == "/base/x?a=1"
    assert request_target("", "/挂号/a b") == "/%E6%8C%82%E5%8F%B7/a%20b"
    assert Origin.parse("http://h:80/api/").host_header == "h"
    assert Origin.parse("https://h:8443").host_header == "h:8443"
    assert Origin.parse("http://[::1]:9/").host_header == "[::1]:9"
    assert Origin.parse("https://h/x").base_path == "/x"
    assert Origin.parse("http://u%40x:p%3Aw@h/").authorization == "Basic dUB4OnA6dw=="  # u@x:p:w
    assert Origin.parse("http://u:p@h/") == Origin.parse("http://h/"), "one pool per origin"


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_https_verifies_the_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("openssl") is None:
        missing_tool("openssl")
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server = await RawServer(answer_ok).start(ctx)
    untrusted = HttpClient()
    with pytest.raises(ConnectFailed, match="TLS handshake"):
        await untrusted.pool(server.origin("https")).send(request(), 5)
    await untrusted.close()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))   # the system trust store, as OpenSSL reads it
    trusted = HttpClient()
    resp = await trusted.pool(server.origin("https")).send(request(), 5)
    assert resp.status == 200 and resp.body == b'{"ok": true}'
    await trusted.close()
    await server.close()


# ---- the target connector on top: the request head it writes, and its errors

def target(port: int, base: str = "", **cfg: object) -> HttpTarget:
    t = HttpTarget("t", TargetConfig(url=f"http://127.0.0.1:{port}{base}", **cfg), Metrics())
    return t


async def test_target_request_head(client: HttpClient) -> None:
    server = await serve(answer_ok)
    t = target(server.port, "/base/")
    t.bind(client)
    reply = await t.call("POST", "/apply", b"{}", {"Content-Type": "application/json", "X-Request-ID": "r1",
                                                    "user-agent": "his-adapter/2", "Content-Length": "999"},
                         idempotent=False)
    assert (reply.status, reply.media_type, reply.body) == (200, "application/json", b'{"ok": true}')
    lines = head(server.requests[0])
    assert lines[0] == b"POST /base/apply HTTP/1.1"
    fields = [line.split(b": ", 1) for line in lines[1:]]
    names = [k.lower() for k, _ in fields]
    assert len(names) == len(set(names)), f"a header was sent twice: {names}"
    got = {k.lower(): v for k, v in fields}
    assert got[b"host"] == f"127.0.0.1:{server.port}".encode()
    assert got[b"user-agent"] == b"his-adapter/2", "a route's own header replaces the default"
    assert got[b"content-length"] == b"2", "the length is always the body's"
    assert got[b"x-request-id"] == b"r1" and got[b"accept-encoding"] == b"gzip, deflate"
    assert server.requests[0].endswith(b"\r\n\r\n{}")
    await t.call("GET", "/q?a=1", b"", {"X-Request-ID": "r2"}, idempotent=True)
    lines = head(server.requests[1])
    assert lines[0] == b"GET /base/q?a=1 HTTP/1.1"
    assert not any(line.lower().startswith(b"content-length") for line in lines)
    await server.close()


async def test_target_refuses_a_header_that_would_split_the_request(client: HttpClient) -> None:
    server = await serve(answer_ok)
    t = target(server.port)
    t.bind(client)
    with pytest.raises(UpstreamError) as info:
        await t.call("POST", "/a", b"{}", {"X-Request-ID": "r1\r\nX-Injected: 1"}, idempotent=False)
    assert info.value.code == "bad_header" and server.requests == []
    await server.close()


async def test_target_maps_client_failures_to_upstream_errors(client: HttpClient) -> None:
    async def slow(server: RawServer, request: bytes) -> bytes:
        await asyncio.sleep(1)
        return ok()
    server = await serve(slow)
    t = target(server.port, timeout="200ms")
    t.bind(client)
    with pytest.raises(UpstreamTimeout, match="did not answer within 0.2s"):
        await t.call("POST", "/a", b"{}", {}, idempotent=False)
    await server.close()
    with pytest.raises(UpstreamError, match="cannot reach target t: ClientConnectorError") as info:
        await t.call("POST", "/a", b"{}", {}, idempotent=False)
    assert info.value.code == "upstream_unreachable"
    assert "cannot connect to 127.0.0.1" in str(info.value.detail)
