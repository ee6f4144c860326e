"""Instructions per request under callgrind: the measurement a noisy neighbour cannot move.

    python -m bench.run --instructions                 # W1: bridge and hand-written, 1,000 requests each
    python -m bench.run --instructions --workloads w2 --peers bridge,handwritten,passthrough

Each Python peer starts under ``valgrind --tool=callgrind --instr-atstart=no``; a fixed number
of keep-alive requests warms it up, counting is switched on (``callgrind_control -i on``), a
fixed number of requests is sent over ``--connections`` connections by a small asyncio client
on the load CPU, and the count is dumped. valgrind counts every instruction the process runs in
user space (the interpreter, lxml, orjson, uvloop), none of the kernel's: the same binary, input
and environment give the same count whatever else the machine does (seen here: within 0.3%
from run to run). It is not time — cache misses and the kernel's share of each request (the
socket writes) are not in it — so it complements the req/s ratios, it does not replace them.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from bench.peerdefs import PEERS
from bench.procs import Proc, free_port, pinned
from bench.workloads import Workload

Say = Callable[..., None]
PYTHON_PEERS = ("bridge", "bridge-asyncio", "handwritten", "passthrough")


def missing() -> str | None:
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        return "valgrind is not installed (apt-get install valgrind)"
    return None


async def _load(url: str, body: bytes, content_type: str, requests: int, connections: int) -> int:
    """``requests`` keep-alive POSTs over ``connections`` connections; how many were not 2xx."""
    u = urlsplit(url)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    left, bad = [requests], [0]

    async def one() -> None:
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(head)
                status = await reader.readuntil(b"\r\n\r\n")
                bad[0] += not status.startswith(b"HTTP/1.1 2")
                length, chunked = 0, False
                for line in status.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    elif name.strip().lower() == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                if chunked:
                    while size := int((await reader.readline()).strip(), 16):
                        await reader.readexactly(size + 2)
                    await reader.readline()
                else:
                    await reader.readexactly(length)
        finally:
            writer.close()
    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(connections))), 1800)
    return bad[0]


def count(name: str, w: Workload, upstream: str, run_dir: Path, requests: int, connections: int,
          server_cpu: int, load_cpu: int) -> dict[str, Any]:
    """Instructions per request of one peer on one workload."""
    port = free_port()
    launch = PEERS[name].launch(w, port, upstream, run_dir)
    out = run_dir / f"callgrind-{name}-{w.name}.out"
    for old in glob.glob(f"{out}*"):
        os.remove(old)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *launch.cmd]
    # the hash seed fixed: str hashes decide dict layouts, so counts repeat from run to run
    proc = Proc(name, cmd, f"http://127.0.0.1:{port}", run_dir / "logs" / f"callgrind-{name}-{w.name}.log",
                {**launch.env, "PYTHONHASHSEED": "0"}, launch.cwd, server_cpu)
    proc.start(launch.ready_path, timeout=300)
    url = proc.url + w.path
    client = [sys.executable, "-c", "import asyncio, sys; from bench.instructions import _load; "
              "sys.exit(min(asyncio.run(_load(*sys.argv[1:2], open(sys.argv[2], 'rb').read(), sys.argv[3], "
              "int(sys.argv[4]), int(sys.argv[5]))), 1))"]
    body = run_dir / "bodies" / f"{w.name}.body"
    body.parent.mkdir(parents=True, exist_ok=True)
    body.write_bytes(w.body)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    try:
        subprocess.run(pinned([*client, url, str(body), w.content_type, "200", str(connections)], load_cpu),
                       check=True, env=env, timeout=900)                       # warm-up, not counted
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True,
                       timeout=60)
        done = subprocess.run(pinned([*client, url, str(body), w.content_type, str(requests),
                                      str(connections)], load_cpu), env=env, timeout=1800)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True, timeout=60)
    finally:
        proc.stop()
    dumps = sorted(glob.glob(f"{out}.*"))
    total = 0
    for line in Path(dumps[0]).read_text().splitlines() if dumps else []:
        if line.startswith("totals:"):
            total = int(line.split()[1])
    return {"peer": name, "workload": w.name, "requests": requests, "connections": connections,
            "instructions": total, "per_request": total / requests if requests else 0,
            "errors": done.returncode}


def report(rows: list[dict[str, Any]]) -> str:
    lines = ["| workload | peer | instructions per request | × hand-written |", "|---|---|---:|---:|"]
    for wname in dict.fromkeys(r["workload"] for r in rows):
        block = [r for r in rows if r["workload"] == wname]
        hand = next((r["per_request"] for r in block if r["peer"] == "handwritten"), None)
        for r in sorted(block, key=lambda r: r["per_request"]):
            ratio = f"{r['per_request'] / hand:.2f}" if hand else "–"
            lines.append(f"| {wname} | {r['peer']} | {r['per_request']:,.0f} | {ratio} |")
    return "\n".join(lines)
