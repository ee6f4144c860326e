"""Processes under test: start pinned to a CPU, wait until they answer, measure RSS/CPU, stop.

Only processes this runner started are ever signalled, by their own process group (each is
started in a new session, so the group id is the child's pid).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    """``taskset -c CPU cmd`` when taskset exists and the machine has that CPU."""
    if cpu is None or not shutil.which("taskset") or cpu >= (os.cpu_count() or 1):
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its descendants (nginx workers, taskset's child)."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


@dataclass
class Proc:
    name: str
    cmd: list[str]
    url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    cpu: int | None = 0
    popen: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/", timeout: float = 60) -> "Proc":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(pinned(self.cmd, self.cpu), stdout=out, stderr=subprocess.STDOUT,
                                          env={**os.environ, **self.env}, cwd=self.cwd,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(self.url + ready_path, timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # it answers: any HTTP status will do
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.url} within {timeout:.0f}s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        except ProcessLookupError:
            pass


# ---- wrk ---------------------------------------------------------------------------------------

_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    """req/s, p50/p99 (ms), requests, errors (socket errors + non-2xx) from ``wrk --latency``."""
    res: dict[str, float] = {"errors": 0.0}
    if m := re.search(r"Requests/sec:\s+([0-9.]+)", out):
        res["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        res["requests"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M):
            res[key] = _ms(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["errors"] += sum(int(g) for g in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        res["errors"] += int(m.group(1))
    if "rps" not in res:
        raise ValueError("wrk printed no Requests/sec:\n" + out)
    return res


def run_wrk(url: str, body_file: Path, content_type: str, connections: int, seconds: float,
            lua: Path, cpu: int | None = 1) -> dict[str, float]:
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                  "--timeout", "10s", "-s", str(lua), url], cpu)
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_CT": content_type}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
    return parse_wrk(out.stdout)
