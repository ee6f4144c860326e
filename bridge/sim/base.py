"""What every simulator shares: JSON endpoints, the request record, the failure switch.

A simulator stands in for a platform that bridge talks to. Tests need to see exactly what the
platform received and to make it misbehave on demand, so every simulator app built with
``new_app`` answers these test-only routes beside its business endpoints:

- ``GET /_sim/health``        -> ``{"status": "ok", "sim": NAME}``
- ``GET /_sim/requests``      -> list of ``{method, path, headers, json}``, newest last (bounded)
- ``DELETE /_sim/requests``   -> clears it, ``{"cleared": N}``
- ``POST /_sim/fail``         -> ``{"status": 500, "times": N, "delay_ms": X}`` (status or delay_ms,
  ``times`` defaults to 1): the next N business requests wait ``delay_ms`` and then answer
  ``status`` (or normally when no status was given)
- ``DELETE /_sim/fail``       -> disarms the switch

Every response echoes the caller's ``X-Request-ID``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

#: A business reply in the palm-hospital style: ``{"head": {"code", "msg"}, "data": {...}}``.
Reply = dict[str, Any]
#: A business endpoint: gets the request (for app state) and its parsed JSON object.
BusinessHandler = Callable[[web.Request, dict[str, Any]], Awaitable[Reply]]

MAX_RECORDED = 1000          # requests kept in /_sim/requests; older ones fall off
MAX_BODY = 1024 * 1024       # request bodies above this get 413 from aiohttp
MAX_DELAY_MS = 60_000
MAX_TIMES = 10_000


def ok(data: dict[str, Any], msg: str = "ok") -> Reply:
    """A business success: head.code 1."""
    return {"head": {"code": 1, "msg": msg}, "data": data}


def rejected(problems: list[str]) -> Reply:
    """A business failure as the platform reports it: HTTP 200, head.code -1, every problem."""
    return {"head": {"code": -1, "msg": "; ".join(problems)}}


@dataclass
class Failure:
    """The armed failure switch: what the next ``times`` business requests suffer."""

    status: int | None = None
    delay_ms: int = 0
    times: int = 0


@dataclass
class SimState:
    """Per-app test state, held under ``SIM_STATE``."""

    name: str
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECORDED))
    failure: Failure = field(default_factory=Failure)


SIM_STATE = web.AppKey("sim_state", SimState)


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def new_app(name: str) -> web.Application:
    """An empty simulator app with the ``/_sim/*`` routes and X-Request-ID echo."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SIM_STATE] = SimState(name)
    app.on_response_prepare.append(_echo_request_id)
    app.router.add_get("/_sim/health", _health)
    app.router.add_get("/_sim/requests", _list_requests)
    app.router.add_delete("/_sim/requests", _clear_requests)
    app.router.add_post("/_sim/fail", _arm_failure)
    app.router.add_delete("/_sim/fail", _disarm_failure)
    return app


def add_endpoint(app: web.Application, path: str, handler: BusinessHandler) -> None:
    """Serve ``handler`` at ``POST path`` as a JSON business endpoint.

    The wrapper records the request first (so tests see even what was refused), then applies
    the failure switch, then insists on ``application/json`` (415) carrying an object (400).
    """

    async def endpoint(request: web.Request) -> web.StreamResponse:
        state = request.app[SIM_STATE]
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        state.requests.append({
            "method": request.method,
            "path": request.path,
            "headers": {str(k): v for k, v in request.headers.items()},
            "json": body,
        })
        failure = state.failure
        if failure.times > 0:
            failure.times -= 1
            if failure.delay_ms:
                await asyncio.sleep(failure.delay_ms / 1000)
            if failure.status is not None:
                return json_response(
                    {"head": {"code": -1, "msg": f"simulated failure {failure.status}"}},
                    status=failure.status)
        if request.content_type != "application/json":
            return json_response(
                {"head": {"code": -1, "msg": "Content-Type must be application/json, got "
                          f"{request.content_type or 'none'}"}}, status=415)
        if not isinstance(body, dict):
            what = "invalid JSON" if body is None and raw.strip() != b"null" else "not an object"
            return json_response(
                {"head": {"code": -1, "msg": f"body must be a JSON object: {what}"}}, status=400)
        return json_response(await handler(request, body))

    app.router.add_post(path, endpoint)


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    rid = request.headers.get("X-Request-ID")
    if rid is not None:
        response.headers["X-Request-ID"] = rid


async def _health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "sim": request.app[SIM_STATE].name})


async def _list_requests(request: web.Request) -> web.Response:
    return json_response(list(request.app[SIM_STATE].requests))


async def _clear_requests(request: web.Request) -> web.Response:
    records = request.app[SIM_STATE].requests
    n = len(records)
    records.clear()
    return json_response({"cleared": n})


def _bounded_int(spec: dict[str, Any], key: str, low: int, high: int, default: int | None,
                 problems: list[str]) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        problems.append(f"{key}: expected an integer in {low}..{high}")
        return None
    return value


async def _arm_failure(request: web.Request) -> web.Response:
    """Arm the switch; a bad spec is refused with 400 so a test typo never passes silently."""
    try:
        spec = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        spec = None
    if not isinstance(spec, dict):
        return json_response({"error": "expected a JSON object"}, status=400)
    problems: list[str] = []
    unknown = sorted(set(spec) - {"status", "times", "delay_ms"})
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)}")
    status = _bounded_int(spec, "status", 100, 599, None, problems)
    delay = _bounded_int(spec, "delay_ms", 0, MAX_DELAY_MS, 0, problems)
    times = _bounded_int(spec, "times", 1, MAX_TIMES, 1, problems)
    if status is None and not delay and not problems:
        problems.append("give status and/or delay_ms")
    if problems:
        return json_response({"error": "; ".join(problems)}, status=400)
    failure = Failure(status=status, delay_ms=delay or 0, times=times or 1)
    request.app[SIM_STATE].failure = failure
    return json_response({"armed": asdict(failure)})


async def _disarm_failure(request: web.Request) -> web.Response:
    request.app[SIM_STATE].failure = Failure()
    return json_response({"armed": None})
