"""All wiring in one place: the aiohttp app, its shared outbound client, metrics and handlers."""

from __future__ import annotations

import asyncio
import os
from typing import Any, AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import http as aiohttp_http
from aiohttp import web
from aiohttp import web_response

from bridge.codecs import wsdl
from bridge.connectors.client import HttpClient
from bridge.delivery import open_store
from bridge.delivery.worker import Queue, Worker
from bridge.errors import RequestTimeout, TooLarge
from bridge.exchange import Incoming, exchange
from bridge.observability.logging import register_secrets
from bridge.observability.metrics import Metrics
from bridge.runtime import PathDispatch, Runtime

# Every reply's `Server` header, aiohttp's own 400s included (they are built by the same
# StreamResponse): the product name, no Python or aiohttp version for a scanner to match.
web_response.SERVER_SOFTWARE = "bridge"  # type: ignore[attr-defined]

log = structlog.get_logger("bridge")


class Current:
    """The live Runtime; a reload replaces it in one assignment (the app itself is frozen)."""

    __slots__ = ("runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime


CURRENT = web.AppKey("current", Current)
METRICS = web.AppKey("metrics", Metrics)
CLIENT = web.AppKey("client", HttpClient)
STATE = web.AppKey("state", dict)

_PLAIN_404 = b'{"error": {"status": 404, "code": "no_route", "message": "no route on this path"}}'


class Handler:
    """The request path: read (bounded) -> parse -> dispatch -> route -> render, observed."""

    __slots__ = ("app", "current", "state")

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.current = app[CURRENT]     # the holder a reload swaps the runtime in
        self.state = app[STATE]

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        runtime = self.current.runtime
        path = request.path
        dispatch = runtime.paths.get(path)
        if dispatch is None:
            return web.Response(status=404, body=_PLAIN_404, content_type="application/json")
        if request.method != "POST":
            if request.method == "GET" and "wsdl" in {k.lower() for k in request.query}:
                return wsdl_view(request, dispatch)
            return web.Response(status=405, headers={"Allow": "POST"})
        content = request.content
        if content.is_eof():
            # the whole body came with the headers (most legacy callers): taken as it is, no
            # read loop; exchange() still applies max_body to it
            incoming = Incoming(path, request.headers, _no_reader, request.content_length,
                                request.remote, content.read_nowait(-1))
        else:
            incoming = Incoming(path, request.headers, _reader(request, runtime.config.server.read_timeout),
                                request.content_length, request.remote)
        out = await exchange(runtime, dispatch, incoming, draining=self.state["draining"])
        return web.Response(status=out.status, body=out.body, headers=out.headers)


async def _no_reader(limit: int) -> bytes:
    raise AssertionError("the body was read with the headers")


def _reader(request: web.Request, timeout: float) -> Callable[[int], Awaitable[bytes]]:
    """Reads a body still on its way, within server.read_timeout (408 past it)."""
    async def read(limit: int) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await read_limited(request, limit)
        except TimeoutError:
            raise RequestTimeout(f"the request body did not arrive within {timeout:g}s") from None
    return read


def wsdl_view(request: web.Request, dispatch: PathDispatch) -> web.Response:
    """GET PATH?wsdl: the path's WSDL, addressed to the URL the client called (DESIGN §3)."""
    try:
        doc = wsdl.document_for(dispatch)
    except wsdl.NoWsdl as exc:
        return web.json_response({"error": {"status": 404, "code": "no_wsdl", "message": str(exc)}},
                                 status=404)
    address = wsdl.request_address(request.headers, request.scheme, request.host, request.path)
    return web.Response(body=doc.render(address), headers={"Content-Type": "text/xml; charset=utf-8"})


async def read_limited(request: web.BaseRequest, limit: int) -> bytes:
    """The body, refused with 413 as soon as more than ``limit`` bytes have come (a chunked
    body is never buffered past it; a declared Content-Length over it exchange() refuses
    before reading)."""
    content = request.content
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body exceeds max_body ({limit} bytes)")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def healthz(request: web.BaseRequest) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    return await ready(request.app)


async def ready(app: web.Application) -> web.Response:
    if app[STATE].get("draining"):
        return web.json_response({"status": "draining"}, status=503)
    runtime = app[CURRENT].runtime
    body: dict[str, object] = {"status": "ready", "routes": len(runtime.routes)}
    queue = app[STATE].get("queue")
    if queue is not None:
        if not await queue.store.ping():
            return web.json_response({"status": "store unreachable"}, status=503)
        body["store"] = "ok"
    return web.json_response(body)


async def metrics_view(request: web.Request) -> web.Response:
    return exposition(request.app)


def exposition(app: web.Application) -> web.Response:
    body = app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    """One outbound client for every target: a keep-alive pool per origin, closed on shutdown."""
    client = HttpClient()
    app[CLIENT] = client
    for target in app[CURRENT].runtime.targets.values():
        target.bind(client)
    yield
    await client.close()


def attach_queue(runtime: Runtime, queue: Queue | None) -> None:
    """Queued routes put their messages into the app's queue (also after a reload)."""
    for route in runtime.routes:
        if route.config.outbound.delivery == "queued":
            route.queue = queue


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    """The store and its worker, only when some route delivers `queued`.

    On start, messages left in flight by a crash are re-queued; on shutdown the worker stops
    claiming and lets in-flight deliveries finish within the drain bound.
    """
    runtime = app[CURRENT].runtime
    if not any(r.config.outbound.delivery == "queued" for r in runtime.routes):
        yield
        return
    store = open_store(runtime.config.store, runtime.loaded.base_dir)
    await store.open()
    # with --workers the supervisor re-queued once before any worker started claiming
    resumed = 0 if os.environ.get("BRIDGE_SKIP_RECOVER") else await store.recover()
    routes_cache: dict[int, dict[str, Any]] = {}

    def current_routes() -> dict[str, Any]:
        rt = app[CURRENT].runtime
        if id(rt) not in routes_cache:
            routes_cache.clear()
            routes_cache[id(rt)] = {r.name: r for r in rt.routes}
        return routes_cache[id(rt)]

    worker = Worker(store, current_routes, runtime.metrics)
    queue = Queue(store, worker)
    attach_queue(runtime, queue)
    app[STATE]["queue"] = queue
    worker.start()
    log.info("delivery_started", store=runtime.config.store, resumed=resumed)
    yield
    await worker.stop(timeout=runtime.config.server.drain_timeout)
    await store.close()


class BridgeRunner(web.BaseRunner):
    """Runs the app (startup, cleanup_ctx, shutdown, as web.AppRunner does) but serves it
    through aiohttp's low-level ``web.Server``: the bridge resolves its own paths with one dict
    lookup, so the app's router, match info, middleware chain and ``web.Request`` wrapper are
    not paid on every request (2% of a W1 request). The app keeps its routes: web.AppRunner
    and pytest-aiohttp still serve it the usual way, with the same answers."""

    __slots__ = ("app",)

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    async def shutdown(self) -> None:
        await self.app.shutdown()

    async def _make_server(self) -> web.Server:
        self.app.on_startup.freeze()
        await self.app.startup()
        self.app.freeze()
        return web.Server(_Dispatch(self.app), **self._kwargs)

    async def _cleanup_server(self) -> None:
        await self.app.cleanup()


class _Dispatch:
    """The low-level server's handler: GET/HEAD of the health and metrics endpoints, else the
    bridge's Handler, which answers every other path and method (as the app's routes do)."""

    __slots__ = ("app", "handler", "special")

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.handler = Handler(app)
        self.special = {"/healthz": self._healthz, "/readyz": self._readyz, "/metrics": self._metrics}

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("Expect"):
            refused = await _expect(request)
            if refused is not None:
                return refused
        special = self.special.get(request.path)
        if special is not None and request.method in ("GET", "HEAD"):
            return await special(request)
        return await self.handler(request)  # type: ignore[arg-type]

    async def _healthz(self, request: web.BaseRequest) -> web.Response:
        return await healthz(request)

    async def _readyz(self, request: web.BaseRequest) -> web.Response:
        return await ready(self.app)

    async def _metrics(self, request: web.BaseRequest) -> web.Response:
        return exposition(self.app)


async def _expect(request: web.BaseRequest) -> web.Response | None:
    """``Expect: 100-continue`` (curl above 1 KiB, .NET's HttpWebRequest always): answered as
    aiohttp's router answers it, so the caller sends its body at once."""
    expect = request.headers.get("Expect", "")
    if request.version != aiohttp_http.HttpVersion11:
        return None
    if expect.lower() != "100-continue":
        return web.Response(status=417, text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0
    await request.writer.drain()
    return None


def build_app(runtime: Runtime) -> web.Application:
    max_body = runtime.config.server.max_body
    app = web.Application(client_max_size=max_body + 1)
    app[CURRENT] = Current(runtime)
    register_secrets(runtime.config.secrets.values())
    app[METRICS] = runtime.metrics
    app[STATE] = {"draining": False}
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_delivery)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    # the bound coroutine method, not the instance: aiohttp deprecates non-async handlers
    handler = Handler(app).__call__
    for path in runtime.paths:      # plain resources resolve without a regex per request
        if "{" not in path and path not in ("/healthz", "/readyz", "/metrics"):
            app.router.add_route("*", path, handler)
    app.router.add_route("*", "/{tail:.*}", handler)   # paths a reload adds later
    return app
