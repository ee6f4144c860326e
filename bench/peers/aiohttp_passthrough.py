"""Peer 1: raw aiohttp pass-through — forwards the bytes to the upstream, no parsing, no transform.

The ceiling for any Python proxy on this machine: whatever a transforming peer does costs on top
of this. One shared ClientSession (library defaults), no logging.

    python bench/peers/aiohttp_passthrough.py --port 8082 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)


async def forward(request: web.Request) -> web.Response:
    body = await request.read()
    async with request.app[SESSION].post(request.app[UPSTREAM] + request.path, data=body,
                                         headers={"Content-Type": request.content_type}) as r:
        reply = await r.read()
        return web.Response(status=r.status, body=reply,
                            headers={"Content-Type": r.headers.get("Content-Type", "application/octet-stream")})


def build(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/{tail:.*}", forward)
    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8082)
    p.add_argument("--upstream", default="http://127.0.0.1:9100")
    a = p.parse_args()
    web.run_app(build(a.upstream), host=a.host, port=a.port, access_log=None, print=None)
