"""Results → medians, ratios to the hand-written aiohttp peer, a Markdown table, JSON and a PNG.

Absolute numbers on a shared 2-core machine mean little; the ratio column is the claim. Each cell
is the median over the rounds (peers were run A B C A B C …, so drift hits every peer alike).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

REFERENCE = "handwritten"


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, workload, connections, peer): medians over rounds, ratios to the reference."""
    groups: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["mode"], r["workload"], r["connections"], r["peer"]), []).append(r)
    rows = []
    for (mode, wl, conns, peer), rs in groups.items():
        med = {k: statistics.median(r[k] for r in rs if k in r)
               for k in ("rps", "p50_ms", "p99_ms", "rss_mib", "cpu_pct") if any(k in r for r in rs)}
        rows.append({"mode": mode, "workload": wl, "connections": conns, "peer": peer, "rounds": len(rs),
                     "errors": sum(r.get("errors", 0) for r in rs), **med})
    by_key = {(r["mode"], r["workload"], r["connections"], r["peer"]): r for r in rows}
    for r in rows:
        ref = by_key.get((r["mode"], r["workload"], r["connections"], REFERENCE))
        if ref and ref.get("rps") and "rps" in r:
            r["rps_ratio"] = r["rps"] / ref["rps"]
            r["p99_ratio"] = r["p99_ms"] / ref["p99_ms"] if ref.get("p99_ms") else None
    return rows


def bridge_vs(rows: list[dict[str, Any]]) -> list[str]:
    """Lines 'bridge = X× peer' for each cell: the ratios the issue's targets are about."""
    out = []
    cells = sorted({(r["mode"], r["workload"], r["connections"]) for r in rows})
    for cell in cells:
        peers = {r["peer"]: r for r in rows if (r["mode"], r["workload"], r["connections"]) == cell}
        b = peers.get("bridge")
        if not b or not b.get("rps"):
            continue
        parts = [f"{b['rps'] / p['rps']:.2f}× {name}" for name, p in peers.items()
                 if name != "bridge" and p.get("rps")]
        p99 = peers.get(REFERENCE, {}).get("p99_ms")
        tail = f"; p99 {b['p99_ms'] / p99:.2f}× {REFERENCE}" if p99 else ""
        out.append(f"- {cell[1]} @{cell[2]} ({cell[0]}): bridge req/s = " + ", ".join(parts) + tail)
    return out


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    head = ["# Benchmark run " + meta.get("started", ""), "",
            f"Machine: {meta.get('machine', '?')}. Rounds: {meta.get('rounds')}, "
            f"{meta.get('duration')} s per measurement, peers in alternation. "
            f"Ratios are to `{REFERENCE}` (hand-written aiohttp); medians over rounds.", ""]
    lines = ["| mode | workload | conns | peer | req/s | × hand | p50 ms | p99 ms | × hand p99 | errors | RSS MiB | CPU % |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["mode"], r["workload"], r["connections"], -r.get("rps", 0))):
        lines.append("| {mode} | {workload} | {connections} | {peer} | {rps:.0f} | {rr} | {p50:.2f} | {p99:.2f} "
                     "| {pr} | {errors:.0f} | {rss:.0f} | {cpu:.0f} |".format(
                         mode=r["mode"], workload=r["workload"], connections=r["connections"], peer=r["peer"],
                         rps=r.get("rps", 0), rr=f"{r['rps_ratio']:.2f}" if r.get("rps_ratio") else "–",
                         p50=r.get("p50_ms", 0), p99=r.get("p99_ms", 0),
                         pr=f"{r['p99_ratio']:.2f}" if r.get("p99_ratio") else "–",
                         errors=r["errors"], rss=r.get("rss_mib", 0), cpu=r.get("cpu_pct", 0)))
    checks = ["", "## Correctness checks (before timing)", ""] + [
        f"- {c['peer']} / {c['workload']}: {'ok' if c['ok'] else 'FAILED: ' + c['detail']}"
        for c in meta.get("checks", [])]
    skipped = [f"- {k}: {v}" for k, v in meta.get("unavailable", {}).items()]
    return "\n".join(head + ["## Bridge ratios", ""] + bridge_vs(rows) + ["", "## Table", ""] + lines
                     + checks + (["", "## Peers not run", ""] + skipped if skipped else [])) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    """req/s and p99 per peer per workload cell; needs matplotlib (in bench/.venv-peers)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cells = sorted({(r["mode"], r["workload"], r["connections"]) for r in rows})
    peers = sorted({r["peer"] for r in rows})
    by = {(r["mode"], r["workload"], r["connections"], r["peer"]): r for r in rows}
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.6 * len(cells)), 8))
    width = 0.8 / max(1, len(peers))
    for ax, key, title in ((axes[0], "rps", "req/s (median)"), (axes[1], "p99_ms", "p99 latency, ms (median)")):
        for i, peer in enumerate(peers):
            xs = [c + i * width for c in range(len(cells))]
            ys = [by.get((*cell, peer), {}).get(key, 0) for cell in cells]
            ax.bar(xs, ys, width, label=peer)
        ax.set_xticks([c + width * (len(peers) - 1) / 2 for c in range(len(cells))])
        ax.set_xticklabels([f"{w}@{c}\n{m}" for m, w, c in cells], fontsize=8)
        ax.set_title(title)
        ax.set_yscale("log")  # nginx is 20x the Python peers: a linear axis hides them
    axes[0].legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def write(out_dir: Path, runs: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Path]:
    rows = summarise(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "results.json", "md": out_dir / "report.md", "png": out_dir / "chart.png"}
    files["json"].write_text(json.dumps({"meta": meta, "runs": runs, "summary": rows}, indent=1))
    files["md"].write_text(markdown(rows, meta))
    if not rows or not chart(rows, files["png"]):
        files.pop("png")
    return files


if __name__ == "__main__":  # run by bench/.venv-peers' python, which has matplotlib
    import sys
    data = json.loads(Path(sys.argv[1]).read_text())
    sys.exit(0 if chart(data["summary"], Path(sys.argv[2])) else 1)
