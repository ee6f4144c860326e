"""All wiring in one place: the aiohttp app, its shared client session, metrics and handlers."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from bridge.codecs.base import Inbound, Rendered
from bridge.errors import BadRequest, BridgeError, TooLarge, Unavailable, UnsupportedMediaType
from bridge.observability.metrics import Metrics
from bridge.runtime import PathDispatch, Route, Runtime

log = structlog.get_logger("bridge")

class Current:
    """The live Runtime; a reload replaces it in one assignment (the app itself is frozen)."""

    __slots__ = ("runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime


CURRENT = web.AppKey("current", Current)
METRICS = web.AppKey("metrics", Metrics)
SESSION = web.AppKey("session", aiohttp.ClientSession)
STATE = web.AppKey("state", dict)

_PLAIN_404 = b'{"error": {"status": 404, "code": "no_route", "message": "no route on this path"}}'


class Handler:
    """The request path: read (bounded) -> parse -> dispatch -> route -> render, observed."""

    __slots__ = ("app",)

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        runtime = self.app[CURRENT].runtime
        dispatch = runtime.paths.get(request.path)
        if dispatch is None:
            return web.Response(status=404, body=_PLAIN_404, content_type="application/json")
        if request.method == "GET" and "wsdl" in {k.lower() for k in request.query}:
            return web.Response(status=404, text="WSDL is not available yet\n")
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        return await self.handle(request, runtime, dispatch)

    async def handle(self, request: web.Request, runtime: Runtime, dispatch: PathDispatch) -> web.Response:
        started = time.perf_counter()
        metrics = runtime.metrics
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        raw_ct = request.headers.get("Content-Type", "")
        media = raw_ct.split(";", 1)[0].strip().lower()
        codec = dispatch.codec
        inb: Inbound = codec.bare(raw_ct)
        route: Route | None = None
        msg = None
        err: BridgeError | None = None
        inflight = None
        try:
            if self.app[STATE].get("draining"):
                raise Unavailable("the bridge is shutting down", code="draining")
            if media and not codec.accepts(media):
                raise UnsupportedMediaType(f"{dispatch.format} expected on {dispatch.path}, got Content-Type {media}")
            data = await read_limited(request, runtime.config.server.max_body)
            if not data.strip():
                raise BadRequest("empty request body", code="empty_body")
            inb = codec.parse(data, media, request.charset, dispatch.parse_options)
            route = dispatch.select(inb)
            if inb.recovered:
                if not route.recover:
                    codec.parse(data, media, request.charset, dispatch.strict_options)
                metrics.xml_recovered.labels(route.name).inc()
            inflight = metrics.inflight.labels(route.name)
            inflight.inc()
            msg = route.message(inb, request.headers, request_id)
            log.debug("request_body", route=route.name, request_id=request_id, body=msg.body)
            rendered = await route.handle(inb, msg)
            outcome = "ok"
        except BridgeError as exc:
            err = exc
            outcome = exc.outcome
            rendered = self.render_error(exc, inb, route or dispatch.error_route, msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: log it fully, answer without details
            log.error("internal_error", request_id=request_id, path=request.path,
                      route=route.name if route else None, exc_info=True)
            err = BridgeError("internal error; see the bridge log for request " + request_id)
            outcome = "rejected"
            rendered = self.render_error(err, inb, route or dispatch.error_route, msg)
            del exc
        finally:
            if inflight is not None:
                inflight.dec()
        name = route.name if route else "unmatched"
        elapsed = time.perf_counter() - started
        metrics.requests.labels(name, outcome).inc()
        metrics.request_duration.labels(name).observe(elapsed)
        meta = msg.meta if msg is not None else {}
        fields: dict[str, Any] = {
            "route": name, "outcome": outcome, "status": rendered.status,
            "duration_ms": round(elapsed * 1000, 2), "request_id": request_id,
            "path": request.path, "upstream_status": meta.get("upstream_status"),
            "upstream_ms": meta.get("upstream_ms")}
        if err is not None:
            fields["error_code"], fields["error"] = err.code, err.message
        log.info("request", **fields)
        return web.Response(status=rendered.status, body=rendered.body,
                            headers={"Content-Type": rendered.content_type, "X-Request-ID": request_id})

    @staticmethod
    def render_error(err: BridgeError, inb: Inbound, route: Route | None, msg: Any) -> Rendered:
        try:
            if route is not None:
                return route.render_error(err, inb, msg)
        except BridgeError:
            pass  # the errors template itself failed: fall back to the default body
        from bridge.codecs import CODECS
        return CODECS[inb.format].render_error(err, inb, tree=None, root=None, namespace=None)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 before reading when declared too large, or once past the limit."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise TooLarge(f"request body of {declared} bytes exceeds max_body ({limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body exceeds max_body ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    if app[STATE].get("draining"):
        return web.json_response({"status": "draining"}, status=503)
    runtime = app[CURRENT].runtime
    return web.json_response({"status": "ready", "routes": len(runtime.routes)})


async def metrics_view(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    """One shared ClientSession for every target: keep-alive, pooled, closed on shutdown."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30,
                                     enable_cleanup_closed=True)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                    headers={"User-Agent": "bridge"})
    app[SESSION] = session
    for target in app[CURRENT].runtime.targets.values():
        target.bind(session)
    yield
    await session.close()


def build_app(runtime: Runtime) -> web.Application:
    max_body = runtime.config.server.max_body
    app = web.Application(client_max_size=max_body + 1)
    app[CURRENT] = Current(runtime)
    app[METRICS] = runtime.metrics
    app[STATE] = {"draining": False}
    app.cleanup_ctx.append(_client_session)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    # the bound coroutine method, not the instance: aiohttp deprecates non-async handlers
    app.router.add_route("*", "/{tail:.*}", Handler(app).__call__)
    return app
