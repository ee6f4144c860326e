"""A loopback upstream in aiohttp: canned replies, optional latency, and a record of what it got.

nginx is the upstream for timing (it is never the bottleneck). This one serves the correctness
checks (it records the last body received on each path, so peers can be compared on what they
*send* as well as what they answer) and the test suite, which must need nothing but the product's
own dependencies. ``--delay`` also makes it the slow-target upstream when nginx's echo module is
missing.

    python bench/upstream.py --port 9100 [--delay 0.03]
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web

try:
    from bench.workloads import all_workloads
except ImportError:  # run as a script: bench/ is the script's folder, the repo is its parent
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.workloads import all_workloads

RECEIVED = web.AppKey("received", dict)


def canned() -> dict[str, bytes]:
    """path -> reply body; the same reply on a workload's inbound path serves the pass-through peers."""
    out: dict[str, bytes] = {}
    for w in all_workloads().values():
        body = orjson.dumps(w.upstream_reply)
        out[w.upstream_path] = body
        out[w.path] = body
    return out


def build(delay: float = 0.0) -> web.Application:
    replies = canned()
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[RECEIVED] = {}

    async def answer(request: web.Request) -> web.Response:
        body = replies.get(request.path)
        if body is None:
            return web.Response(status=404, text="no canned reply for " + request.path)
        request.app[RECEIVED][request.path] = await request.read()
        if delay:
            await asyncio.sleep(delay)
        return web.Response(body=body, content_type="application/json")

    async def last(request: web.Request) -> web.Response:
        got = request.app[RECEIVED].get(request.query.get("path", ""))
        return web.Response(status=200 if got is not None else 404, body=got or b"")

    app.router.add_get("/_last", last)
    app.router.add_post("/{tail:.*}", answer)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--delay", type=float, default=0.0, help="seconds added to every reply")
    a = p.parse_args()
    web.run_app(build(a.delay), host=a.host, port=a.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
