"""Command line (DESIGN §5): serve, check, routes, schema, sim, test, wsdl, replay, messages."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from typing import Any, Sequence

from bridge import __version__
from bridge.errors import ConfigError

DEFAULT_CONFIG = "routes.yaml"


def _load_runtime(path: str) -> Any:
    from bridge.config import load
    from bridge.observability.metrics import Metrics
    from bridge.runtime import compile_runtime

    return compile_runtime(load(path, partial=True), Metrics())


def _config_errors(exc: ConfigError) -> int:
    for line in exc.errors:
        print(line)
    n = len(exc.errors)
    print(f"{n} error{'s' if n != 1 else ''}", file=sys.stderr)
    return 1


def cmd_check(args: argparse.Namespace) -> int:
    try:
        runtime = _load_runtime(args.config)
    except ConfigError as exc:
        return _config_errors(exc)
    from bridge.preflight import missing_drivers

    drivers = missing_drivers(runtime.config)
    for line in drivers:
        print(f"{args.config}: {line}")
    if drivers:
        return 1
    print(f"{args.config}: ok ({len(runtime.routes)} routes, {len(runtime.targets)} targets, "
          f"{len(runtime.paths)} paths)")
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    try:
        runtime = _load_runtime(args.config)
    except ConfigError as exc:
        return _config_errors(exc)
    rows = [("ROUTE", "PATH", "FORMAT", "MATCH", "TARGET", "DELIVERY")]
    for r in runtime.routes:
        ib, ob = r.config.inbound, r.config.outbound
        m = ib.match
        match = "-" if m is None else (
            f"root={m.root}" if m.root else f"operation={m.operation}" if m.operation
            else f"{m.field}={m.equals if m.in_ is None else '|'.join(map(str, m.in_))}")
        rows.append((r.name, ib.path, ib.format, match,
                     f"{ob.target} {ob.method} {ob.format} {ob.path or '/'}", ob.delivery))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import orjson

    from bridge.schema import config_schema

    sys.stdout.write(orjson.dumps(config_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def resolve_listen(cli: str | None, config_listen: str) -> tuple[str, int]:
    """--listen > BRIDGE_LISTEN > server.listen."""
    value = cli or os.environ.get("BRIDGE_LISTEN") or config_listen
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    from bridge.observability.logging import configure

    try:
        runtime = _load_runtime(args.config)
    except ConfigError as exc:
        return _config_errors(exc)
    cfg = runtime.config
    from bridge.preflight import refusal

    refused = refusal(args.config, cfg, with_sim=args.with_sim, env=os.environ)
    if refused is not None:
        print(f"bridge: {refused}", file=sys.stderr)
        return 2
    configure(cfg.logging.level, cfg.logging.pii, cfg.logging.format, cache=True)
    try:
        host, port = resolve_listen(args.listen, cfg.server.listen)
    except ValueError:
        print(f"invalid listen address {args.listen or os.environ.get('BRIDGE_LISTEN')!r}: expected HOST:PORT",
              file=sys.stderr)
        return 2
    from bridge.workers import loop_factory, supervise

    if args.workers > 1:
        return supervise(runtime, args, host, port)
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        return runner.run(serve(runtime, host, port, with_sim=args.with_sim,
                                config_path=args.config, watch=args.watch,
                                reuse_port=args.reuse_port))


async def serve(runtime: Any, host: str, port: int, *, with_sim: bool = False,
                config_path: str | None = None, watch: bool = False,
                reuse_port: bool = False) -> int:
    """Run until SIGTERM/SIGINT; drain in-flight requests within server.drain_timeout; exit 0.

    SIGHUP (and, with ``watch``, any change of the config or transforms/) reloads routes.yaml.
    """
    import structlog

    from bridge.app import CURRENT, METRICS, STATE, BridgeRunner, build_app
    from bridge.listen import ListenSite
    log = structlog.get_logger("bridge")

    sims: list[Any] = []
    if with_sim:
        from bridge.sim import load_builtin_sims, start_sims
        load_builtin_sims()
        sims = await start_sims(None)
        for sim in sims:
            log.info("simulator_started", sim=sim.name, url=sim.url)
    app = build_app(runtime)
    runner = BridgeRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=runtime.config.server.drain_timeout)
    await runner.setup()
    # aiohttp's default backlog (128) is smaller than the connections a busy HIS or a load
    # balancer opens at once: the kernel drops the SYNs beyond it and those callers wait for a
    # SYN retransmit (1 s, then 3 s) before their first request is even read
    site = ListenSite(runner, host, port, backlog=runtime.config.server.backlog, reuse_port=reuse_port)
    try:
        await site.start()
    except OSError as exc:
        log.error("listen_failed", host=host, port=port, error=str(exc))
        await runner.cleanup()
        for sim in sims:
            await sim.close()
        return 1
    log.info("listening", host=host, port=port, routes=len(runtime.routes), version=__version__,
             loop=type(asyncio.get_running_loop()).__module__.split(".")[0])
    # Everything built so far (modules, compiled routes, the app) lives as long as the process:
    # keep it out of the collector's full passes, which otherwise walk it all and stalled every
    # request for ~30 ms several times a minute under load (the p99 of bench/README.md).
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = None
    if config_path is not None:
        from bridge.reload import reload, watch as watch_config
        loop.add_signal_handler(signal.SIGHUP, reload, app, config_path)
        if watch:
            watcher = asyncio.create_task(watch_config(app, config_path))
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    log.info("draining", timeout_s=runtime.config.server.drain_timeout)
    app[STATE]["draining"] = True
    await _wait_idle(app[METRICS], app[CURRENT].runtime.config.server.drain_timeout)
    await runner.cleanup()
    for sim in reversed(sims):
        await sim.close()
    log.info("stopped")
    for sig in (signal.SIGTERM, signal.SIGINT):   # a late second signal must not turn exit 0 into -15
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)
    return 0


async def _wait_idle(metrics: Any, bound: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while loop.time() < deadline:
        if metrics.in_flight() <= 0:
            return
        await asyncio.sleep(0.05)


def cmd_sim(args: argparse.Namespace) -> int:
    from bridge.sim import SIMULATORS, load_builtin_sims, start_sims

    load_builtin_sims()
    unknown = [n for n in args.names if n not in SIMULATORS]
    if unknown:
        print(f"unknown simulator(s): {', '.join(unknown)}; known: {', '.join(sorted(SIMULATORS))}",
              file=sys.stderr)
        return 2
    host = "127.0.0.1"
    ports: dict[str, int] | None = None
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        if len(args.names) == 1 and port:
            ports = {args.names[0]: int(port)}

    async def run() -> int:
        sims = await start_sims(args.names or None, host=host or "127.0.0.1", ports=ports)
        for sim in sims:
            print(f"{sim.name}: {sim.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for sim in reversed(sims):
            await sim.close()
        return 0
    return asyncio.run(run())


def cmd_wsdl(args: argparse.Namespace) -> int:
    from bridge.codecs import wsdl

    try:
        runtime = _load_runtime(args.config)
    except ConfigError as exc:
        return _config_errors(exc)
    dispatch = runtime.paths.get(args.path)
    if dispatch is None:
        soap = sorted(p for p, d in runtime.paths.items() if d.format == "soap")
        print(f"no routes on {args.path}; SOAP paths: {', '.join(soap) or 'none'}", file=sys.stderr)
        return 1
    try:
        doc = wsdl.document_for(dispatch)
    except wsdl.NoWsdl as exc:
        print(str(exc), file=sys.stderr)
        return 1
    address = args.address
    if not address:
        host, port = resolve_listen(None, runtime.config.server.listen)
        host = "localhost" if host in ("0.0.0.0", "::", "") else host
        address = f"http://{f'[{host}]' if ':' in host else host}:{port}{args.path}"
    sys.stdout.buffer.write(doc.render(address))
    sys.stdout.flush()
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """Route test cases (bridge.routetest); request logs are silenced, errors go to stderr."""
    from bridge.observability.logging import configure
    from bridge.routetest import main as run_tests

    configure("error", stream=sys.stderr)
    return run_tests(args.config, args.cases, sys.stdout, sys.stderr)


def _store(args: argparse.Namespace) -> Any:
    from bridge.config import load
    from bridge.delivery import open_store

    loaded = load(args.config)
    return open_store(loaded.config.store, loaded.base_dir)


def cmd_replay(args: argparse.Namespace) -> int:
    """Dead letters back to pending: a running bridge's worker picks them up within a second."""
    async def run() -> int:
        store = _store(args)
        await store.open()
        try:
            n = await store.replay(ids=args.id or None, route=args.route)
        finally:
            await store.close()
        print(f"{n} dead letter{'s' if n != 1 else ''} re-queued")
        return 0
    try:
        return asyncio.run(run())
    except ConfigError as exc:
        return _config_errors(exc)


def cmd_messages(args: argparse.Namespace) -> int:
    """List or inspect queued messages by status and route (operators; --json for tools)."""
    import datetime as dt

    import orjson

    async def run() -> int:
        store = _store(args)
        await store.open()
        try:
            if args.id:
                records = [r for r in [await store.get(i) for i in args.id] if r is not None]
            else:
                records = await store.list(status=args.status, route=args.route, limit=args.limit)
        finally:
            await store.close()
        if args.json:
            rows = []
            for r in records:
                row = r.summary()
                if args.body:
                    row["body"] = r.body.decode("utf-8", "replace")
                rows.append(row)
            sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
            return 0 if records or not args.id else 1
        for r in records:
            when = dt.datetime.fromtimestamp(r.created_at).isoformat(timespec="seconds")
            print(f"{r.id}  {r.status:<9} {r.route:<28} attempts={r.attempts:<3} {when}  "
                  f"{r.last_error or ''}".rstrip())
            if args.body:
                print("    " + r.body.decode("utf-8", "replace"))
        if not records:
            print("no messages", file=sys.stderr)
        return 0 if records or not args.id else 1
    try:
        return asyncio.run(run())
    except ConfigError as exc:
        return _config_errors(exc)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bridge", description="Async protocol bridge for healthcare integration.")
    p.add_argument("--version", action="version", version=f"bridge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("-c", "--config", default=os.environ.get("BRIDGE_CONFIG", DEFAULT_CONFIG),
                        help="routes file (default: routes.yaml, or $BRIDGE_CONFIG)")
        return sp

    s = with_config(sub.add_parser("serve", help="run the bridge"))
    s.add_argument("--listen", help="HOST:PORT (overrides BRIDGE_LISTEN and server.listen)")
    s.add_argument("--watch", action="store_true",
                   help="reload routes.yaml when it (or transforms/) changes; SIGHUP always reloads")
    s.add_argument("--with-sim", action="store_true", help="start the seed simulators in-process")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="N processes sharing the port (SO_REUSEPORT), metrics aggregated")
    s.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                   help="event loop: uvloop when installed (auto)")
    s.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)
    with_config(sub.add_parser("check", help="validate routes.yaml")).set_defaults(func=cmd_check)
    with_config(sub.add_parser("routes", help="list routes")).set_defaults(func=cmd_routes)
    sub.add_parser("schema", help="JSON Schema of routes.yaml").set_defaults(func=cmd_schema)
    sm = sub.add_parser("sim", help="run simulators of the seed platforms")
    sm.add_argument("names", nargs="*", metavar="NAME")
    sm.add_argument("--listen", help="HOST[:PORT] (PORT only with one NAME)")
    sm.set_defaults(func=cmd_sim)
    w = with_config(sub.add_parser("wsdl", help="WSDL of the SOAP routes sharing PATH"))
    w.add_argument("path", metavar="PATH")
    w.add_argument("--address", help="service address in the document (default: from the listen address)")
    w.set_defaults(func=cmd_wsdl)
    t = with_config(sub.add_parser("test", help="run route test cases against fake targets, no network"))
    t.add_argument("cases", nargs="*", metavar="CASES",
                   help="case files or folders (default: tests/routes/*.yaml beside the config)")
    t.set_defaults(func=cmd_test)
    rp = with_config(sub.add_parser("replay", help="re-deliver dead letters (all, by route, by id)"))
    rp.add_argument("--route", help="only this route's dead letters")
    rp.add_argument("--id", action="append", help="only this message (repeatable)")
    rp.set_defaults(func=cmd_replay)
    ms = with_config(sub.add_parser("messages", help="list or inspect queued messages"))
    ms.add_argument("--status", choices=["pending", "inflight", "delivered", "dead"])
    ms.add_argument("--route")
    ms.add_argument("--id", action="append", help="show these messages (repeatable)")
    ms.add_argument("--limit", type=int, default=100)
    ms.add_argument("--body", action="store_true", help="include message bodies (may hold PII)")
    ms.add_argument("--json", action="store_true", help="JSON output")
    ms.set_defaults(func=cmd_messages)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))
