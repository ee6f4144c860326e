"""The two long measurements of bench/README.md: scaling with --workers, and RSS over a soak.

    python -m bench.run --scaling            # W1, bridge --workers 1 vs 2, in alternation
    python -m bench.run --soak 1000000       # W1 until 1M requests, RSS at 100k and at the end

Both write ``report.md`` and ``results.json`` in the run directory, like a full run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from bench.peerdefs import PEERS
from bench.procs import Proc, cpu_seconds, free_port, rss_mib, run_wrk
from bench.workloads import all_workloads

Say = Callable[..., None]


def _bridge(workers: int, upstream: str, run_dir: Path, cpu: int | None) -> Proc:
    w = all_workloads()["w1"]
    port = free_port()
    launch = PEERS["bridge"].launch(w, port, upstream, run_dir)
    return Proc(f"bridge-{workers}w", [*launch.cmd, "--workers", str(workers)], f"http://127.0.0.1:{port}",
                run_dir / "logs" / f"bridge-{workers}w.log", launch.env, launch.cwd, cpu).start(launch.ready_path)


def scaling(args: Any, run_dir: Path, meta: dict[str, Any], upstream: str, body: Path, lua: Path,
            say: Say) -> dict[str, Any]:
    """W1 at the first --connections: --workers 1 and --workers 2, nothing pinned (on 2 cores
    the second worker shares its CPU with wrk and the upstream: what a 2-core host gives)."""
    w = all_workloads()["w1"]
    conns = args.connections[0]
    procs = {n: _bridge(n, upstream, run_dir, None) for n in (1, 2)}
    runs: list[dict[str, Any]] = []
    try:
        for p in procs.values():
            run_wrk(p.url + w.path, body, w.content_type, conns, 3, lua, None)   # warm-up
        for rnd in range(args.rounds):
            for n, p in procs.items():
                cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
                res = run_wrk(p.url + w.path, body, w.content_type, conns, args.duration, lua, None)
                res["cpu_pct"] = 100 * (cpu_seconds(p.pid) - cpu0) / (time.monotonic() - t0)
                res["rss_mib"] = rss_mib(p.pid)
                runs.append({"workers": n, "round": rnd, **res})
                say(f"  scaling w1 c={conns} r{rnd} workers={n} {res['rps']:8.0f} req/s "
                    f"p99 {res.get('p99_ms', 0):7.2f} ms err {res['errors']:.0f} cpu {res['cpu_pct']:.0f}%")
    finally:
        for p in procs.values():
            p.stop()

    def median(n: int, key: str) -> float:
        vals = sorted(r[key] for r in runs if r["workers"] == n)
        return vals[len(vals) // 2]
    one, two = median(1, "rps"), median(2, "rps")
    result = {"connections": conns, "runs": runs, "rps_1": one, "rps_2": two, "scaling": two / one,
              "cpu_1": median(1, "cpu_pct"), "cpu_2": median(2, "cpu_pct")}
    lines = [f"# Scaling, W1 @{conns}, bridge --workers 1 vs 2 ({args.rounds} rounds × {args.duration:g} s)", "",
             f"Machine: {meta['machine']}. Nothing pinned: wrk (1 thread) and the nginx upstream share the "
             "CPUs with the workers.", "",
             "| workers | req/s (median) | p99 ms (median) | bridge CPU % | errors |", "|---:|---:|---:|---:|---:|",
             *[f"| {n} | {median(n, 'rps'):.0f} | {median(n, 'p99_ms'):.2f} | {median(n, 'cpu_pct'):.0f} | "
               f"{sum(r['errors'] for r in runs if r['workers'] == n):.0f} |" for n in (1, 2)],
             "", f"**2 workers = {two / one:.2f}× one worker.**", ""]
    _write(run_dir, "scaling", result, lines, say)
    return result


def soak(args: Any, run_dir: Path, meta: dict[str, Any], upstream: str, body: Path, lua: Path,
         say: Say, server_cpu: int, load_cpu: int) -> dict[str, Any]:
    """W1 until ``args.soak`` requests; RSS after each segment. Flat means: RSS at the end within
    ±10% of RSS at the first checkpoint past 100k requests (the issue's criterion)."""
    w = all_workloads()["w1"]
    conns = args.connections[0]
    target = args.soak
    first_mark = min(100_000, target // 10)
    bridge = _bridge(1, upstream, run_dir, server_cpu)
    points: list[dict[str, float]] = []
    total, errors = 0.0, 0.0
    started = time.monotonic()
    try:
        run_wrk(bridge.url + w.path, body, w.content_type, conns, 3, lua, load_cpu)     # warm-up
        points.append({"requests": 0, "rss_mib": rss_mib(bridge.pid), "seconds": 0})
        while total < target:
            res = run_wrk(bridge.url + w.path, body, w.content_type, conns, args.duration, lua, load_cpu)
            total += res.get("requests", 0)
            errors += res["errors"]
            points.append({"requests": total, "rss_mib": rss_mib(bridge.pid), "rps": res["rps"],
                           "seconds": round(time.monotonic() - started, 1)})
            say(f"  soak {total:>9,.0f} requests  rss {points[-1]['rss_mib']:6.1f} MiB  "
                f"{res['rps']:6.0f} req/s  errors {errors:.0f}")
    finally:
        bridge.stop()
    at_mark = next(p for p in points if p["requests"] >= first_mark)
    end = points[-1]
    growth = end["rss_mib"] / at_mark["rss_mib"] - 1
    result = {"connections": conns, "target": target, "points": points, "errors": errors,
              "rss_at_mark": at_mark, "rss_at_end": end, "growth": growth, "flat": abs(growth) <= 0.10}
    lines = [f"# Soak, W1 @{conns}: RSS from {at_mark['requests']:,.0f} to {end['requests']:,.0f} requests", "",
             f"Machine: {meta['machine']}. Bridge on CPU {server_cpu}, wrk and nginx on CPU {load_cpu}; "
             f"segments of {args.duration:g} s.", "",
             "| requests | RSS MiB | req/s | elapsed s |", "|---:|---:|---:|---:|",
             *[f"| {p['requests']:,.0f} | {p['rss_mib']:.1f} | {p.get('rps', 0):.0f} | {p['seconds']:.0f} |"
               for p in _thin(points)],
             "", f"**RSS {at_mark['rss_mib']:.1f} MiB at {at_mark['requests']:,.0f} requests, "
                 f"{end['rss_mib']:.1f} MiB at {end['requests']:,.0f}: {growth:+.1%} "
                 f"({'flat' if result['flat'] else 'NOT flat'}, criterion ±10%). Errors: {errors:.0f}.**", ""]
    _write(run_dir, "soak", result, lines, say)
    return result


def _thin(points: list[dict[str, float]], keep: int = 25) -> list[dict[str, float]]:
    if len(points) <= keep:
        return points
    step = (len(points) - 1) / (keep - 1)
    return [points[round(i * step)] for i in range(keep)]   # first and last included, once


def _write(run_dir: Path, kind: str, result: dict[str, Any], lines: list[str], say: Say) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps({kind: result}, indent=1))
    (run_dir / "report.md").write_text("\n".join(lines))
    say("\n".join(lines))
