"""The servers under test: how to start each one, and what it needs installed.

The bridge is one of them, run exactly as users run it (`python -m bridge serve -c routes.yaml`),
with its targets pointed at the benchmark's upstream.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench import nginx
from bench.workloads import ROOT, Workload

HERE = ROOT / "bench"
PEERS_VENV = HERE / ".venv-peers"
NODE_RED_DIR = HERE / "peers" / "node-red"
PRODUCT_PY = ROOT / ".venv" / "bin" / "python"


def product_python() -> str:
    return str(PRODUCT_PY) if PRODUCT_PY.exists() else sys.executable


@dataclass(frozen=True)
class Launch:
    cmd: list[str]
    env: dict[str, str]
    cwd: Path | None = None
    ready_path: str = "/"


@dataclass(frozen=True)
class PeerDef:
    name: str
    label: str
    passthrough: bool                   # forwards bytes: checked against the upstream, not the bridge
    warmup_s: float                     # load before the first timed run (JITs, pools, caches)
    launch: Callable[[Workload, int, str, Path], Launch]
    missing: Callable[[], str | None]   # why it cannot run here, or None


def _bridge_on(loop: str) -> Callable[[Workload, int, str, Path], Launch]:
    def launch(w: Workload, port: int, up: str, run: Path) -> Launch:
        return Launch([product_python(), "-m", "bridge", "serve", "-c", str(ROOT / w.bridge_config),
                       "--listen", f"127.0.0.1:{port}", "--loop", loop],
                      # BRIDGE_ENV=dev: the shipped routes' dev-only secrets are fine here
                      {"REFERRAL_URL": up, "UPSTREAM_URL": up, "BRIDGE_ENV": "dev"}, ROOT, "/healthz")
    return launch


def _script(name: str) -> Callable[[Workload, int, str, Path], Launch]:
    def launch(w: Workload, port: int, up: str, run: Path) -> Launch:
        return Launch([product_python(), str(HERE / "peers" / name), "--port", str(port), "--upstream", up],
                      {"PYTHONPATH": str(ROOT)}, ROOT)
    return launch


def _fastapi(w: Workload, port: int, up: str, run: Path) -> Launch:
    return Launch([str(PEERS_VENV / "bin" / "python"), "-m", "uvicorn", "--app-dir", str(HERE / "peers"),
                   "fastapi_peer:app", "--host", "127.0.0.1", "--port", str(port)],
                  {"UPSTREAM_URL": up}, ROOT, "/docs")


def _node_red(w: Workload, port: int, up: str, run: Path) -> Launch:
    user_dir = run / "node-red-data"
    user_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(NODE_RED_DIR / "flows.json", user_dir / "flows.json")
    return Launch(["node", str(NODE_RED_DIR / "node_modules" / "node-red" / "red.js"),
                   "--settings", str(NODE_RED_DIR / "settings.js"), "--userDir", str(user_dir)],
                  {"PORT": str(port), "UPSTREAM_URL": up}, user_dir, "/")


def _nginx(w: Workload, port: int, up: str, run: Path) -> Launch:
    conf = nginx.proxy_conf(run / f"nginx-peer-{port}", port, int(up.rsplit(":", 1)[1]))
    return Launch(nginx.command(conf), {}, None, "/")


def _needs_fastapi() -> str | None:
    ok = (PEERS_VENV / "bin" / "python").exists() and any(PEERS_VENV.glob("lib/python*/site-packages/fastapi"))
    return None if ok else "bench/.venv-peers with fastapi/uvicorn/httpx/xmltodict is missing"


def _needs_node_red() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not (NODE_RED_DIR / "node_modules" / "node-red" / "red.js").exists():
        return "node-red is not installed in bench/peers/node-red (npm install)"
    return None


def _needs_nginx() -> str | None:
    return None if shutil.which("nginx") else "nginx is not installed (apt-get install nginx)"


PEERS: dict[str, PeerDef] = {p.name: p for p in (
    PeerDef("bridge", "bridge (routes.yaml)", False, 2, _bridge_on("auto"), lambda: None),
    # the same bridge on the stdlib event loop: what uvloop is worth, like for like with the
    # aiohttp peers (which run on asyncio's default loop, as their users run them)
    PeerDef("bridge-asyncio", "bridge --loop asyncio", False, 2, _bridge_on("asyncio"), lambda: None),
    PeerDef("handwritten", "hand-written aiohttp+lxml+orjson", False, 2, _script("aiohttp_handwritten.py"),
            lambda: None),
    PeerDef("passthrough", "raw aiohttp pass-through", True, 2, _script("aiohttp_passthrough.py"), lambda: None),
    PeerDef("fastapi", "FastAPI+httpx+xmltodict", False, 2, _fastapi, _needs_fastapi),
    PeerDef("node-red", "Node-RED 4 flow", False, 8, _node_red, _needs_node_red),
    PeerDef("nginx", "nginx proxy_pass", True, 1, _nginx, _needs_nginx),
)}
