"""Hot reload of routes.yaml (SIGHUP or --watch): all or nothing, never a failed request.

A new Runtime is loaded and compiled off to the side; only if it is complete does one
assignment make it current. Requests already running keep the Runtime they started with
(exchange() holds its own reference), so nothing in flight sees a half-swapped config. An invalid
file keeps the old routes, logs every error, and counts ``bridge_config_reloads_total{result="error"}``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from bridge.app import CLIENT, CURRENT, STATE, attach_queue
from bridge.config import load
from bridge.errors import ConfigError
from bridge.observability.logging import register_secrets
from bridge.runtime import compile_runtime

log = structlog.get_logger("bridge.reload")


def reload(app: web.Application, path: str | Path) -> bool:
    """Swap in a freshly compiled routes.yaml; False (old routes kept) if it is invalid."""
    current = app[CURRENT].runtime
    metrics = current.metrics
    try:
        runtime = compile_runtime(load(path, partial=True), metrics)
        queue = app[STATE].get("queue")
        queued = [r.name for r in runtime.routes if r.config.outbound.delivery == "queued"]
        if queued and queue is None:
            raise ConfigError([f"{path}: routes {', '.join(queued)} deliver queued but the store is "
                               "not open: restart the bridge to add the first queued route"])
        if runtime.config.store != current.config.store and queue is not None:
            raise ConfigError([f"{path}: store: changed; restart the bridge to switch stores"])
    except ConfigError as exc:
        metrics.config_reloads.labels("error").inc()
        log.error("reload_failed", config=str(path), errors=exc.errors)
        return False
    client = app.get(CLIENT)
    if client is not None:
        for target in runtime.targets.values():
            target.bind(client)
    attach_queue(runtime, app[STATE].get("queue"))
    register_secrets(runtime.config.secrets.values())
    app[CURRENT].runtime = runtime          # the swap: one assignment
    metrics.config_reloads.labels("ok").inc()
    log.info("reloaded", config=str(path), routes=len(runtime.routes))
    return True


def _stamp(path: Path, base: Path) -> tuple[Any, ...]:
    """What --watch compares: routes.yaml and the files it uses (glossaries, schemas)."""
    files = [path]
    for sub in ("transforms",):
        folder = base / sub
        if folder.is_dir():
            files.extend(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".xsd", ".json", ".py"))
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((str(f), None, None))
    return tuple(out)


async def watch(app: web.Application, path: str | Path, interval: float = 1.0) -> None:
    """Poll the config (and transforms/) and reload on change; runs until cancelled."""
    p = Path(path).resolve()
    last = _stamp(p, p.parent)
    while True:
        await asyncio.sleep(interval)
        stamp = _stamp(p, p.parent)
        if stamp != last:
            last = stamp
            reload(app, p)
