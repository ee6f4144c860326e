"""Benchmark runner: the bridge and its peers, same workloads, in alternation, reported as ratios.

    python -m bench.run                 # full run (installs wrk/nginx/node-red/peers venv if missing)
    python -m bench.run --smoke         # correctness of every available peer, a few seconds, no claims
    python -m bench.run --workloads w1 --connections 32 --rounds 3 --duration 10 --modes fast
    python -m bench.run --profile       # py-spy profile of the bridge under W1
    python -m bench.run --instructions  # instructions per request under callgrind, bridge vs hand-written

The server under test runs on CPU 0 (taskset), wrk and the upstream on CPU 1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import nginx, report
from bench.check import check_all
from bench.peerdefs import NODE_RED_DIR, PEERS, PEERS_VENV, product_python
from bench.procs import Proc, cpu_seconds, free_port, rss_mib, run_wrk
from bench.workloads import ROOT, Workload, all_workloads

HERE = ROOT / "bench"
LUA = HERE / "wrk" / "post.lua"
SERVER_CPU, LOAD_CPU = 0, 1


def say(*a: Any) -> None:
    print(*a, flush=True)


# ---- tools -------------------------------------------------------------------------------------

def install_tools() -> None:
    """Install what is missing, each by its own package manager; failures leave that peer out."""
    need_apt = [p for p, ok in (("wrk", shutil.which("wrk")), ("nginx", shutil.which("nginx")),
                                ("libnginx-mod-http-echo", nginx.has_echo()),
                                ("valgrind", shutil.which("callgrind_control"))) if not ok]
    if need_apt and os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing", *need_apt, "(apt-get)")
        subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *need_apt], check=False, stdout=subprocess.DEVNULL)
    elif need_apt:
        say("missing (install with apt-get as root):", *need_apt)
    if not (PEERS_VENV / "bin" / "python").exists():
        say("creating bench/.venv-peers")
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=False)
    if (PEERS_VENV / "bin" / "pip").exists() and PEERS["fastapi"].missing():
        subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", "-r", str(HERE / "peers" / "requirements.txt")],
                       check=False)
    if shutil.which("npm") and not (NODE_RED_DIR / "node_modules" / "node-red").exists():
        say("installing node-red (npm, pinned 4.x in bench/peers/node-red/package.json)")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_RED_DIR, check=False)


# ---- one workload block ------------------------------------------------------------------------

def start_peers(names: list[str], w: Workload, upstream: str, run_dir: Path,
                unavailable: dict[str, str]) -> dict[str, Proc]:
    procs: dict[str, Proc] = {}
    for name in names:
        port = free_port()
        launch = PEERS[name].launch(w, port, upstream, run_dir)
        proc = Proc(name, launch.cmd, f"http://127.0.0.1:{port}", run_dir / "logs" / f"{name}-{w.name}.log",
                    launch.env, launch.cwd, SERVER_CPU)
        try:
            procs[name] = proc.start(launch.ready_path)
        except RuntimeError as exc:
            unavailable[f"{name}/{w.name}"] = str(exc)
            say("  !", exc)
    if "node-red" in procs:
        time.sleep(3)  # its HTTP server answers before the flows are started
    return procs


def stop_all(procs: dict[str, Proc]) -> None:
    for p in procs.values():
        p.stop()


def body_file(w: Workload, run_dir: Path) -> Path:
    f = run_dir / "bodies" / f"{w.name}.body"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(w.body)
    return f


def measure(proc: Proc, w: Workload, body: Path, conns: int, seconds: float) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    res: dict[str, Any] = run_wrk(proc.url + w.path, body, w.content_type, conns, seconds, LUA, LOAD_CPU)
    wall = time.monotonic() - t0
    res["cpu_pct"] = 100 * (cpu_seconds(proc.pid) - cpu0) / wall
    res["rss_mib"] = rss_mib(proc.pid)
    return res


def selected_peers(args: argparse.Namespace, w: Workload, unavailable: dict[str, str]) -> list[str]:
    names = []
    for name in args.peers:
        why = PEERS[name].missing()
        if why:
            unavailable[name] = why
        elif name in w.peers_unsupported:
            unavailable[f"{name}/{w.name}"] = "no flow for this workload (W1 only)"
        else:
            names.append(name)
    if "bridge" not in names:
        names.insert(0, "bridge")  # the reference for every correctness check
    return names


# ---- modes -------------------------------------------------------------------------------------

def start_upstream(mode: str, run_dir: Path) -> tuple[Proc, str]:
    """fast: nginx canned replies; slow: +30 ms (nginx echo_sleep, else aiohttp asyncio.sleep)."""
    port = free_port()
    delay = 30 if mode == "slow" else 0
    if shutil.which("nginx") and (not delay or nginx.has_echo()):
        conf = nginx.upstream_conf(run_dir / f"nginx-upstream-{mode}", port, delay)
        proc, kind = Proc("upstream", nginx.command(conf), f"http://127.0.0.1:{port}",
                          run_dir / "logs" / f"upstream-{mode}.log", cpu=LOAD_CPU), "nginx"
    else:
        proc, kind = Proc("upstream", [product_python(), str(HERE / "upstream.py"), "--port", str(port),
                                       "--delay", str(delay / 1000)], f"http://127.0.0.1:{port}",
                          run_dir / "logs" / f"upstream-{mode}.log", {"PYTHONPATH": str(ROOT)}, cpu=LOAD_CPU), "aiohttp"
    return proc.start("/_last" if kind == "aiohttp" else "/"), kind


def smoke(args: argparse.Namespace, run_dir: Path, meta: dict[str, Any]) -> int:
    """Every available peer, every workload: same reply as the bridge, same body sent upstream."""
    port = free_port()
    up = Proc("upstream", [product_python(), str(HERE / "upstream.py"), "--port", str(port)],
              f"http://127.0.0.1:{port}", run_dir / "logs" / "upstream.log", {"PYTHONPATH": str(ROOT)},
              cpu=LOAD_CPU).start("/_last")
    failed = 0
    try:
        for w in (all_workloads()[n] for n in args.workloads):
            procs = start_peers(selected_peers(args, w, meta["unavailable"]), w, up.url, run_dir,
                                meta["unavailable"])
            try:
                checks = asyncio.run(check_all({n: (p.url, PEERS[n].passthrough) for n, p in procs.items()},
                                               w, recording_upstream=up.url))
            finally:
                stop_all(procs)
            for c in checks:
                meta["checks"].append(c.__dict__)
                failed += not c.ok
                say(f"  {w.name:7} {c.peer:14} {'ok' if c.ok else 'FAILED ' + c.detail}")
    finally:
        up.stop()
    say(f"smoke: {len(meta['checks']) - failed} passed, {failed} failed"
        + (f"; not run: {', '.join(sorted(meta['unavailable']))}" if meta["unavailable"] else ""))
    return 1 if failed else 0


def full(args: argparse.Namespace, run_dir: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for mode in args.modes:
        upstream, kind = start_upstream(mode, run_dir)
        meta.setdefault("upstreams", {})[mode] = kind
        say(f"== mode {mode}: upstream {kind} on CPU {LOAD_CPU}")
        try:
            for w in (all_workloads()[n] for n in args.workloads):
                if mode == "slow" and w.name != "w1":
                    continue  # the slow-target mode is about connection handling: W1 is enough
                conns = args.connections if (w.name == "w1" or args.all_connections) else args.connections[:1]
                runs += workload_block(args, w, conns, mode, upstream.url, run_dir, meta)
        finally:
            upstream.stop()
    return runs


def workload_block(args: argparse.Namespace, w: Workload, conns: list[int], mode: str, upstream: str,
                   run_dir: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    procs = start_peers(selected_peers(args, w, meta["unavailable"]), w, upstream, run_dir, meta["unavailable"])
    runs: list[dict[str, Any]] = []
    try:
        checks = asyncio.run(check_all({n: (p.url, PEERS[n].passthrough) for n, p in procs.items()},
                                       w, recording_upstream=None))
        for c in checks:
            meta["checks"].append({**c.__dict__, "mode": mode})
            if not c.ok:
                say(f"  ! {c.peer} {w.name}: {c.detail} -- not timed")
                procs.pop(c.peer).stop()
        body = body_file(w, run_dir)
        for name, p in procs.items():  # warm-up, not recorded
            run_wrk(p.url + w.path, body, w.content_type, conns[0], PEERS[name].warmup_s, LUA, LOAD_CPU)
        for c in conns:
            for rnd in range(args.rounds):
                for name, p in procs.items():  # A B C A B C ...
                    res = measure(p, w, body, c, args.duration)
                    runs.append({"mode": mode, "workload": w.name, "bytes": w.size, "connections": c,
                                 "round": rnd, "peer": name, **res})
                    say(f"  {mode} {w.name:7} c={c:<3} r{rnd} {name:14} {res['rps']:8.0f} req/s "
                        f"p99 {res.get('p99_ms', 0):7.2f} ms err {res['errors']:.0f} "
                        f"rss {res['rss_mib']:.0f} MiB cpu {res['cpu_pct']:.0f}%")
    finally:
        stop_all(procs)
    return runs


def profile(args: argparse.Namespace, run_dir: Path, meta: dict[str, Any]) -> int:
    """py-spy (from bench/.venv-peers) on the bridge (or, with ``--peers NAME``, a Python peer)
    while wrk drives the first workload: collapsed stacks, top lists and a share per package."""
    spy = PEERS_VENV / "bin" / "py-spy"
    if not spy.exists():
        say("py-spy missing: run without --no-install first")
        return 1
    w = all_workloads()[args.workloads[0] if args.workloads_given else "w1"]
    name = args.peers[0] if args.peers_given else "bridge"
    upstream, _ = start_upstream("fast", run_dir)
    procs = start_peers([name], w, upstream.url, run_dir, meta["unavailable"])
    try:
        bridge = procs[name]
        body = body_file(w, run_dir)
        run_wrk(bridge.url + w.path, body, w.content_type, args.connections[0], 2, LUA, LOAD_CPU)
        out = run_dir / f"{name}-{w.name}.collapsed"
        spy_proc = subprocess.Popen([str(spy), "record", "--pid", str(bridge.pid), "--format", "raw",
                                     "--rate", "250", "--duration", str(int(args.duration)), "--nonblocking",
                                     "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        res = run_wrk(bridge.url + w.path, body, w.content_type, args.connections[0], args.duration, LUA, LOAD_CPU)
        spy_proc.wait(timeout=args.duration + 30)
        say(f"profiled at {res['rps']:.0f} req/s (py-spy slows the process: compare ratios, not this)")
    finally:
        stop_all(procs)
        upstream.stop()
    text = hot_spots(out, f"{name}, {w.name}")
    (run_dir / "profile.md").write_text(text)
    say(text)
    return 0


def long_run(args: argparse.Namespace, run_dir: Path, meta: dict[str, Any]) -> int:
    from bench import longrun

    if not shutil.which("wrk"):
        say("wrk is not installed (apt-get install wrk)")
        return 1
    w = all_workloads()["w1"]
    upstream, kind = start_upstream("fast", run_dir)
    meta.setdefault("upstreams", {})["fast"] = kind
    try:
        body = body_file(w, run_dir)
        if args.scaling:
            longrun.scaling(args, run_dir, meta, upstream.url, body, LUA, say)
        if args.soak:
            res = longrun.soak(args, run_dir / "soak" if args.scaling else run_dir, meta, upstream.url,
                               body, LUA, say, SERVER_CPU, LOAD_CPU)
            return 0 if res["errors"] == 0 else 1
    finally:
        upstream.stop()
    return 0


def instructions(args: argparse.Namespace, run_dir: Path, meta: dict[str, Any]) -> int:
    from bench import instructions as ins

    why = ins.missing()
    if why:
        say(why)
        return 1
    names = [n for n in (args.peers if args.peers_given else ["bridge", "handwritten"]) if n in ins.PYTHON_PEERS]
    workloads = args.workloads if args.workloads_given else ["w1"]
    upstream, kind = start_upstream("fast", run_dir)
    meta.setdefault("upstreams", {})["fast"] = kind
    rows: list[dict[str, Any]] = []
    try:
        for wname in workloads:
            w = all_workloads()[wname]
            for name in names:
                row = ins.count(name, w, upstream.url, run_dir, args.requests, args.connections[0],
                                SERVER_CPU, LOAD_CPU)
                rows.append(row)
                say(f"  {w.name:7} {name:14} {row['per_request']:12,.0f} instructions/request"
                    + ("" if not row["errors"] else "  (some replies were not 2xx)"))
    finally:
        upstream.stop()
    text = (f"# Instructions per request (callgrind), {args.requests} requests over "
            f"{args.connections[0]} connections\n\n{meta['machine']}. User-space instructions of the "
            "server process only (interpreter, C extensions); the kernel's share and cache misses are "
            "not in it: see bench/instructions.py.\n\n" + ins.report(rows) + "\n")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "report.md").write_text(text)
    (run_dir / "results.json").write_text(json.dumps({"meta": meta, "instructions": rows}, indent=2))
    say(text)
    return 0 if not any(r["errors"] for r in rows) else 1


def package_of(frame: str) -> str:
    """``f (aiohttp/client.py)`` -> ``aiohttp``; the bridge's own frames by module."""
    m = re.search(r"\(([^()]*)\)$", frame)
    path = m.group(1) if m else ""
    if path.startswith("bridge/"):
        return path.rsplit(".", 1)[0]
    head = path.split("/", 1)[0]
    return head or "(native / idle)"


def hot_spots(collapsed: Path, title: str = "bridge, W1", top: int = 25) -> str:
    """Self time per package and per function (line numbers folded).

    py-spy sees an async handler's stack only from the coroutine the loop resumed, so inclusive
    shares undercount; self time is exact, and summed by package it says where the CPU goes."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        leaf = re.sub(r":\d+\)$", ")", stack.split(";")[-1].strip())
        count = int(n)
        total += count
        own[leaf] += count
        packages[package_of(leaf)] += count
    total = max(total, 1)

    def fmt(c: Counter[str]) -> list[str]:
        return [f"| {100 * v / total:5.1f}% | `{k}` |" for k, v in c.most_common(top)]
    return "\n".join([f"# Profile: {title} ({total} samples)", "", "## Self time by package", "",
                      "| share | package or bridge module |", "|---:|---|", *fmt(packages), "",
                      "## Self time by function", "", "| share | frame |", "|---:|---|", *fmt(own), ""])


def main(argv: list[str] | None = None) -> int:
    names = list(all_workloads())
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="correctness of every available peer only")
    p.add_argument("--profile", action="store_true",
                   help="py-spy profile of the bridge (or the first --peers) under W1 (or the first --workloads)")
    p.add_argument("--scaling", action="store_true", help="W1: bridge --workers 1 vs 2 (bench/longrun.py)")
    p.add_argument("--instructions", action="store_true",
                   help="instructions per request under callgrind (bench/instructions.py): bridge vs hand-written")
    p.add_argument("--requests", type=int, default=1000, help="with --instructions: requests counted per peer")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="W1 until N requests, RSS along the way (e.g. 1000000)")
    p.add_argument("--duration", type=float, default=8, help="seconds per measurement (default 8)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workloads", default=",".join(names), help=f"comma list of {', '.join(names)}")
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma list of {', '.join(PEERS)}")
    p.add_argument("--connections", default="32,200", help="W1 runs each; others the first unless --all-connections")
    p.add_argument("--all-connections", action="store_true")
    p.add_argument("--modes", default="fast,slow", help="fast (canned upstream) and/or slow (+30 ms upstream)")
    p.add_argument("--no-install", action="store_true", help="use only the tools already installed")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    args.workloads_given = "--workloads" in (argv if argv is not None else sys.argv)
    args.peers_given = "--peers" in (argv if argv is not None else sys.argv)
    args.workloads = [x for x in args.workloads.split(",") if x]
    args.peers = [x for x in args.peers.split(",") if x]
    args.connections = [int(x) for x in args.connections.split(",") if x]
    args.modes = [x for x in args.modes.split(",") if x]
    bad = [x for x in args.workloads if x not in names] + [x for x in args.peers if x not in PEERS]
    if bad or any(m not in ("fast", "slow") for m in args.modes):
        p.error(f"unknown workload, peer or mode: {bad or args.modes}")

    if not (args.smoke or args.no_install):
        install_tools()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kind = ("-smoke" if args.smoke else "-profile" if args.profile else "-scaling" if args.scaling
            else "-soak" if args.soak else "-instructions" if args.instructions else "")
    run_dir = args.out / (stamp + kind)
    meta: dict[str, Any] = {"started": stamp, "duration": args.duration, "rounds": args.rounds,
                            "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
                                       f"Python {platform.python_version()}",
                            "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU, "checks": [], "unavailable": {},
                            "workloads": {n: all_workloads()[n].size for n in args.workloads}}
    if args.smoke:
        return smoke(args, run_dir, meta)
    if args.profile:
        return profile(args, run_dir, meta)
    if args.instructions:
        return instructions(args, run_dir, meta)
    if args.scaling or args.soak:
        return long_run(args, run_dir, meta)
    if not shutil.which("wrk"):
        say("wrk is not installed (apt-get install wrk); only --smoke can run")
        return 1
    runs = full(args, run_dir, meta)
    files = report.write(run_dir, runs, meta)
    if "png" not in files and (PEERS_VENV / "bin" / "python").exists():
        done = subprocess.run([str(PEERS_VENV / "bin" / "python"), str(HERE / "report.py"), str(files["json"]),
                               str(run_dir / "chart.png")], check=False)
        if done.returncode == 0:
            files["png"] = run_dir / "chart.png"
    say((run_dir / "report.md").read_text())
    say("written:", *[os.path.relpath(f, ROOT) for f in files.values()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
