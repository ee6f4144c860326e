"""server.backlog: how many connections the kernel completes for the bridge before it accepts them.

With the process stopped (SIGSTOP) nothing is accepted, so the number of handshakes the kernel
completes is the listen backlog itself: beyond it, SYNs are dropped and a caller waits for its
SYN retransmit (1 s, 3 s, ...) before its request is read. aiohttp's default is 128, fewer than
a busy HIS or a load-test opens at once (`bench/README.md`).
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import time
from pathlib import Path
from typing import Any

CALLERS = 300


def somaxconn() -> int:
    """The kernel's cap on any listen backlog (Linux; the bridge's target platform)."""
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


def completed(backlog: int) -> int:
    """What Linux completes for a stopped listener: backlog + 1, the backlog capped first."""
    return min(CALLERS, min(backlog, somaxconn()) + 1)


def write_config(tmp_path: Path, server: str) -> Path:
    config = tmp_path / "routes.yaml"
    config.write_text(f"""
version: 1
server: {server}
targets:
  t: {{url: "http://127.0.0.1:9", timeout: 1s}}
routes:
  - name: a
    inbound: {{path: /a, format: json}}
    outbound: {{target: t, path: /a}}
""", encoding="utf-8")
    return config


def handshakes_while_stopped(pid: int, port: int) -> int:
    """Connect CALLERS sockets while the bridge is stopped; how many handshakes completed."""
    socks = []
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(CALLERS):
            s = socket.socket()
            s.setblocking(False)
            assert s.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)
            socks.append(s)
        pending = {s.fileno(): s for s in socks}
        connected = 0
        deadline = time.monotonic() + 2.5            # a dropped SYN is retried only after 1 s
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.1)
            for fd in writable:
                s = pending.pop(fd)
                connected += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        return connected
    finally:
        os.kill(pid, signal.SIGCONT)
        for s in socks:
            s.close()


async def test_default_backlog_holds_hundreds_of_simultaneous_callers(tmp_path: Path, serve: Any) -> None:
    served = serve(write_config(tmp_path, "{drain_timeout: 1s}"))
    await served.ready()
    port = int(served.url.rsplit(":", 1)[1])
    assert handshakes_while_stopped(served.proc.pid, port) == completed(1024)
    await served.ready(timeout=10)                   # and it serves on after being continued


async def test_backlog_from_routes_yaml_is_the_one_the_socket_gets(tmp_path: Path, serve: Any) -> None:
    served = serve(write_config(tmp_path, "{backlog: 16, drain_timeout: 1s}"))
    await served.ready()
    port = int(served.url.rsplit(":", 1)[1])
    connected = handshakes_while_stopped(served.proc.pid, port)
    assert connected == completed(16)
    await served.ready(timeout=10)
