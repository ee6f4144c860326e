"""``bridge wsdl [-c routes.yaml] PATH [--address URL]``: the same document GET PATH?wsdl serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
from lxml import etree

from bridge.testing import running_bridge

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "configs" / "hospital.yaml"


def bridge_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT, env=full_env,
                          capture_output=True, timeout=30)


async def test_cli_prints_the_served_document() -> None:
    address = "https://his.example.org/ws/hospital"
    res = await asyncio.to_thread(bridge_cli, "wsdl", "-c", str(CONFIG), "/ws/hospital", "--address", address)
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""
    async with running_bridge(CONFIG) as b:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "his.example.org"}
            async with http.get(b.url + "/ws/hospital?wsdl", headers=headers) as r:
                assert r.status == 200
                served = await r.read()
    assert res.stdout == served
    doc = etree.fromstring(res.stdout)
    assert {el.get("location") for el in doc.iterfind(".//{*}address")} == {address}


def test_cli_default_address_comes_from_the_listen_address() -> None:
    res = bridge_cli("wsdl", "-c", str(CONFIG), "/ws/hospital", env={"BRIDGE_LISTEN": "0.0.0.0:9555"})
    assert res.returncode == 0, res.stderr
    doc = etree.fromstring(res.stdout)
    assert {el.get("location") for el in doc.iterfind(".//{*}address")} == {
        "http://localhost:9555/ws/hospital"}


def test_cli_refuses_paths_without_soap_routes() -> None:
    res = bridge_cli("wsdl", "-c", str(CONFIG), "/plain")
    assert res.returncode == 1
    assert res.stdout == b""
    assert b"no WSDL for /plain: its routes use format xml, not soap" in res.stderr
    res = bridge_cli("wsdl", "-c", str(CONFIG), "/nowhere")
    assert res.returncode == 1 and res.stdout == b""
    assert b"no routes on /nowhere; SOAP paths: /ws/hospital" in res.stderr
