"""One request through the bridge, independent of the HTTP server that carried it.

The aiohttp handler (bridge.app) and `bridge test` (no network) both call ``exchange``:
read (bounded) -> parse -> dispatch -> auth -> route -> render, observed in metrics and logs.
"""

from __future__ import annotations

import asyncio
import os
from time import perf_counter
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

import structlog

from bridge.codecs import CODECS
from bridge.codecs.base import Inbound, Rendered
from bridge.codecs.charset import content_type_parts
from bridge.errors import BadRequest, BridgeError, TooLarge, Unavailable, UnsupportedMediaType
from bridge.message import Message
from bridge.observability.logging import HOT
from bridge.runtime import PathDispatch, Route, Runtime

log = structlog.get_logger("bridge")


@dataclass(slots=True)
class Incoming:
    path: str
    headers: Mapping[str, str]
    read: Callable[[int], Awaitable[bytes]]   # read(limit): the body, TooLarge past limit
    content_length: int | None = None
    remote: str | None = None
    body: bytes | None = None                 # the body, when it was all there already


@dataclass(slots=True)
class Outgoing:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    route: str = "unmatched"
    outcome: str = "ok"


def bytes_reader(data: bytes) -> Callable[[int], Awaitable[bytes]]:
    """A reader over a body already in memory (for `bridge test` and embedding)."""
    async def read(limit: int) -> bytes:
        if len(data) > limit:
            raise TooLarge(f"request body of {len(data)} bytes exceeds max_body ({limit} bytes)")
        return data
    return read


_get = dict.get   # Meta.get works out clock values; the request path reads plain keys only
_NO_META: dict[str, Any] = {}


def request_id_of(headers: Mapping[str, str]) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one: it goes into logs and
    the target's headers, so a 5 KB or control-character id is not taken."""
    given = headers.get("X-Request-ID")
    if given and len(given) <= 200 and given.isprintable():
        return given
    return os.urandom(16).hex()


async def exchange(runtime: Runtime, dispatch: PathDispatch, incoming: Incoming, *,
                   draining: bool = False) -> Outgoing:
    started = perf_counter()
    metrics = runtime.metrics
    headers = incoming.headers
    request_id = request_id_of(headers)
    raw_ct = headers.get("Content-Type", "")
    media, header_charset = content_type_parts(raw_ct)
    codec = dispatch.codec
    inb: Inbound | None = None
    route: Route | None = None
    msg: Message | None = None
    err: BridgeError | None = None
    busy = None
    try:
        if draining:
            raise Unavailable("the bridge is shutting down", code="draining")
        if media and not codec.accepts(media):
            raise UnsupportedMediaType(f"{dispatch.format} expected on {dispatch.path}, "
                                       f"got Content-Type {media}")
        limit = dispatch.max_body
        if incoming.content_length is not None and incoming.content_length > limit:
            raise TooLarge(f"request body of {incoming.content_length} bytes exceeds max_body "
                           f"({limit} bytes)")
        data = incoming.body
        if data is None:
            data = await incoming.read(limit)
        elif len(data) > limit:
            raise TooLarge(f"request body exceeds max_body ({limit} bytes)")
        if not data or data.isspace():
            raise BadRequest("empty request body", code="empty_body")
        inb = codec.parse(data, media, header_charset, dispatch.parse_options)
        route = dispatch.select(inb)
        if inb.recovered and not route.recover:
            codec.parse(data, media, header_charset, dispatch.strict_options)
        busy = route.name
        metrics.started(busy)
        msg = route.message(inb, headers, request_id)
        if inb.recovered:     # the document, or the one a SOAP parameter carries, was repaired
            metrics.xml_recovered.labels(route.name).inc()
            msg.meta["xml_recovered"] = True
        if route.auth is not None:
            route.auth(msg, incoming.remote)
        if HOT.debug:
            log.debug("request_body", route=route.name, request_id=request_id, body=msg.body)
        rendered = await route.handle(inb, msg)
        outcome = _get(msg.meta, "outcome", "ok")
    except BridgeError as exc:
        err = exc
        outcome = exc.outcome
        rendered = render_error(exc, inb or codec.bare(raw_ct), route or dispatch.error_route, msg)
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug: log it fully, answer without details
        log.error("internal_error", request_id=request_id, path=incoming.path,
                  route=route.name if route else None, exc_info=True)
        err = BridgeError("internal error; see the bridge log for request " + request_id)
        outcome = "rejected"
        rendered = render_error(err, inb or codec.bare(raw_ct), route or dispatch.error_route, msg)
    finally:
        if busy is not None:
            metrics.finished(busy)
    name = route.name if route else "unmatched"
    elapsed = perf_counter() - started
    metrics.request_done(name, outcome, elapsed)
    meta = msg.meta if msg is not None else _NO_META
    fields: dict[str, Any] = {
        "route": name, "outcome": outcome, "status": rendered.status,
        "duration_ms": round(elapsed * 1000, 2), "request_id": request_id,
        "path": incoming.path, "upstream_status": _get(meta, "upstream_status"),
        "upstream_ms": _get(meta, "upstream_ms")}
    if "message_id" in meta:
        fields["message_id"] = meta["message_id"]
    if "xml_recovered" in meta:
        fields["xml_recovered"] = True
    if err is not None:
        fields["error_code"], fields["error"] = err.code, err.message
        if err.detail.__class__ is str:
            fields["error_detail"] = err.detail
    HOT.request.info("request", **fields)
    return Outgoing(rendered.status, rendered.body,
                    {"Content-Type": rendered.content_type, "X-Request-ID": request_id},
                    name, outcome)


def render_error(err: BridgeError, inb: Inbound, route: Route | None, msg: Message | None) -> Rendered:
    try:
        if route is not None:
            return route.render_error(err, inb, msg)
    except BridgeError:
        pass  # the errors template itself failed: fall back to the default body
    return CODECS[inb.format].render_error(err, inb, tree=None, root=None, namespace=None)
