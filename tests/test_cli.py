"""The command line (DESIGN §5): routes, schema, --version, listen precedence, serve lifecycle."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bridge import __version__
from bridge.cli import resolve_listen

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30


def bridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_routes_table_lists_every_shipped_route() -> None:
    res = bridge("routes", "-c", str(ROOT / "routes.yaml"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["ROUTE", "PATH", "FORMAT", "MATCH", "TARGET", "DELIVERY"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    shipped = yaml.safe_load((ROOT / "routes.yaml").read_text(encoding="utf-8"))["routes"]
    assert set(rows) == {r["name"] for r in shipped}
    for name, root, path in (("referral.apply", "referral", "/referral/apply"),
                             ("referral.query", "referral-query", "/referral/query"),
                             ("referral.push", "referral-apply", "/referral/push")):
        row = rows[name]
        assert row[1] == "/referral/api/SxzzAppServlet"
        assert row[2] == "xml"
        assert row[3] == f"root={root}"
        assert row[4:] == ["referral_platform", "POST", "json", path, "sync"]


def test_schema_is_json_with_routes_and_step_alternatives() -> None:
    res = bridge("schema")
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)          # only the document on stdout
    assert "routes" in schema["properties"]
    assert "targets" in schema["properties"]
    alternatives = schema["$defs"]["PipelineStep"]["anyOf"]
    names = {next(iter(alt["properties"])) for alt in alternatives}
    assert {"rename", "case", "template", "require"} <= names
    assert schema["$defs"]["RouteConfig"]["properties"]["pipeline"]["items"] == {
        "$ref": "#/$defs/PipelineStep"}
    rename = next(a for a in alternatives if "rename" in a["properties"])
    assert rename["required"] == ["rename"] and rename["additionalProperties"] is False


def test_version() -> None:
    res = bridge("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"bridge {__version__}"


def test_listen_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRIDGE_LISTEN", raising=False)
    assert resolve_listen(None, "0.0.0.0:8080") == ("0.0.0.0", 8080)
    monkeypatch.setenv("BRIDGE_LISTEN", "127.0.0.2:9000")
    assert resolve_listen(None, "0.0.0.0:8080") == ("127.0.0.2", 9000)
    assert resolve_listen("127.0.0.3:7000", "0.0.0.0:8080") == ("127.0.0.3", 7000)
    monkeypatch.setenv("BRIDGE_LISTEN", "")
    assert resolve_listen(None, "10.0.0.1:81") == ("10.0.0.1", 81)
    assert resolve_listen(":8081", "x:1") == ("0.0.0.0", 8081)
    assert resolve_listen("[::1]:8082", "x:1") == ("::1", 8082)


SERVE_CFG = textwrap.dedent("""\
    version: 1
    server: {listen: "127.0.0.1:1", drain_timeout: 2s}
    logging: {level: warning}
    targets: {t: {url: "http://127.0.0.1:9"}}
    routes:
      - name: r
        inbound: {path: /r, format: json}
        outbound: {target: t}
    """)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_healthz_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(SERVE_CFG)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["BRIDGE_LISTEN"] = "127.0.0.1:1"      # --listen wins over it
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--listen", f"127.0.0.1:{port}",
                             "-c", str(cfg)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    status = resp.status
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        assert status == 200, (tmp_path / "serve.log").read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_serve_on_a_broken_config_exits_1_with_the_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    text = SERVE_CFG.replace('url: "http://127.0.0.1:9"', 'url: "http://127.0.0.1:9", timeout: fast') + (
        "  - name: r2\n    inbound: {path: /r2, format: json}\n    outbound: {target: tt}\n")
    cfg.write_text(text)
    res = bridge("serve", "--listen", "127.0.0.1:1", "-c", str(cfg))
    assert res.returncode == 1
    def at(needle: str) -> str:
        idx = text.index(needle)
        return f"{text.count(chr(10), 0, idx) + 1}:{idx - text.rfind(chr(10), 0, idx)}"
    assert res.stdout.splitlines() == [
        f"{cfg}:{at('fast')}: targets.t.timeout: expected a duration like 5s or 100ms, got 'fast'",
        f"{cfg}:{at('tt}')}: routes.1.outbound.target: unknown target 'tt' (did you mean 't'?)",
    ]
    assert "2 errors" in res.stderr
