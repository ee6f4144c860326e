"""`bridge serve --workers N`: N processes, one event loop each, sharing the port (SO_REUSEPORT).

The parent only supervises: it validates the config, re-queues messages a crash left in flight
(once, before any worker claims), starts the simulators in their own process when asked, spawns
the workers, forwards SIGTERM/SIGINT/SIGHUP to them and exits 0 when they all did. Metrics are
aggregated across workers with prometheus-client's multiprocess mode: every worker writes to a
shared directory and any worker's /metrics reads all of it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SKIP_RECOVER_ENV = "BRIDGE_SKIP_RECOVER"


def _recover(runtime: Any) -> int:
    if not any(r.config.outbound.delivery == "queued" for r in runtime.routes):
        return 0
    from bridge.delivery import open_store

    async def run() -> int:
        store = open_store(runtime.config.store, runtime.loaded.base_dir)
        await store.open()
        try:
            return await store.recover()
        finally:
            await store.close()
    return asyncio.run(run())


def supervise(runtime: Any, args: Any, host: str, port: int) -> int:
    import structlog

    log = structlog.get_logger("bridge")
    resumed = _recover(runtime)
    metrics_dir = tempfile.mkdtemp(prefix="bridge-metrics-")
    env = {**os.environ, MULTIPROC_ENV: metrics_dir, SKIP_RECOVER_ENV: "1"}
    base = [sys.executable, "-m", "bridge"]
    children: list[subprocess.Popen[bytes]] = []
    try:
        if args.with_sim:
            children.append(subprocess.Popen([*base, "sim"], env=env))
        for i in range(args.workers):
            cmd = [*base, "serve", "-c", args.config, "--listen", f"{host}:{port}", "--workers", "1",
                   "--reuse-port", "--loop", args.loop]
            if args.watch:
                cmd.append("--watch")
            children.append(subprocess.Popen(cmd, env={**env, "BRIDGE_WORKER": str(i)}))
        log.info("workers_started", workers=args.workers, port=port, resumed=resumed,
                 pids=[c.pid for c in children])

        def forward(signum: int, frame: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        codes = [child.wait() for child in children]
        log.info("workers_stopped", codes=codes)
        return 0 if all(c == 0 for c in codes) else 1
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def loop_factory(name: str) -> Any:
    """`--loop auto|asyncio|uvloop`: uvloop when installed (auto) or asked for."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise SystemExit("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return None
    return uvloop.new_event_loop
