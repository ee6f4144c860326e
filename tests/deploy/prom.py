"""A real Prometheus server on loopback for the deploy tests, and the PromQL the deploy files hold.

The Debian package `prometheus` provides both `prometheus` and `promtool`; `.ci/run` installs it.
On a developer machine without it the tests that need it are skipped, nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "bridge.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROM_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

# What Grafana puts in for its built-in interval variables when the test runs a panel's query:
# windows wide enough to hold several 1 s scrapes.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
# Dashboard variables are all multi-value with "All" = ".*" (see templating in bridge.json).
_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_variables() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


def substitute(expr: str) -> str:
    """The query as Grafana sends it with every variable on "All"; unknown variables raise."""
    defined = dashboard_variables()

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name not in defined:
            raise KeyError(f"variable ${name} is used but not defined in templating")
        return str(defined[name].get("allValue") or ".*")

    return _VAR.sub(one, expr)


def panel_queries() -> Iterator[tuple[str, str]]:
    """(panel title / refId, PromQL ready to run) for every query of every panel."""
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                yield f"{p['title']} / {t['refId']}", substitute(t["expr"])
    yield from walk(dashboard()["panels"])


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"]]


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


@contextlib.asynccontextmanager
async def running_prometheus(tmp: Path, scrape: str) -> AsyncIterator["Prom"]:
    """deploy/prometheus/prometheus.yml with its target swapped for ``scrape`` (HOST:PORT), 1 s
    scrape and rule evaluation, the rule file by absolute path; a fresh TSDB in ``tmp``."""
    assert PROMETHEUS is not None
    cfg = yaml.safe_load(PROM_CONFIG.read_text(encoding="utf-8"))
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s")
    cfg["rule_files"] = [str((PROM_CONFIG.parent / f).resolve()) for f in cfg["rule_files"]]
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "bridge"]
    job["static_configs"] = [{"targets": [scrape]}]
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    port = free_port()
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            prom = Prom(f"http://127.0.0.1:{port}", http, proc)
            await prom.wait_ready()
            yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


class Prom:
    """The few HTTP API calls the tests make."""

    def __init__(self, url: str, http: aiohttp.ClientSession, proc: subprocess.Popen[bytes]) -> None:
        self.url, self.http, self.proc = url, http, proc

    async def wait_ready(self, attempts: int = 100) -> None:
        for _ in range(attempts):
            assert self.proc.poll() is None, "prometheus exited; see prometheus.log in the tmp dir"
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(self.url + "/-/ready") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    async def api(self, path: str, **params: str) -> dict[str, Any]:
        async with self.http.get(self.url + "/api/v1/" + path, params=params) as r:
            body: dict[str, Any] = await r.json()
            return body

    async def query(self, expr: str) -> dict[str, Any]:
        return await self.api("query", query=expr)

    async def value(self, expr: str) -> float | None:
        """The single value of an instant query, None when it returns nothing."""
        body = await self.query(expr)
        assert body["status"] == "success", body
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    async def wait_for(self, expr: str, at_least: float, attempts: int = 150) -> None:
        """Poll (every 0.2 s, bounded) until ``expr`` returns a value >= at_least."""
        for _ in range(attempts):
            v = await self.value(expr)
            if v is not None and v >= at_least:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{expr} never reached {at_least}")
