"""Simulators of the seed platforms, for local runs (`bridge sim`, `--with-sim`) and tests.

Each simulator is one module that registers an app factory with ``@register_sim``; adding one
means writing that module and naming it in ``_BUILTIN``. ``start_sims`` runs any of them
in-process, each on its own loopback port (0 = ephemeral, handy in tests).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from aiohttp import web

#: Modules that register the built-in simulators; the one list to extend.
#: Modules of this package that are helpers, not simulators.
_HELPERS = {"base", "fields"}

SHUTDOWN_TIMEOUT = 1.0   # s; a closing sim waits ~2x this for in-flight (delayed) requests

AppFactory = Callable[[], web.Application]


@dataclass(frozen=True)
class SimSpec:
    """A registered simulator: its name (`bridge sim NAME`), what it is, where it listens."""

    name: str
    description: str
    default_port: int
    factory: AppFactory


SIMULATORS: dict[str, SimSpec] = {}


def register_sim(name: str, *, default_port: int,
                 description: str | None = None) -> Callable[[AppFactory], AppFactory]:
    """Register an app factory; ``description`` defaults to the first line of its docstring."""

    def deco(factory: AppFactory) -> AppFactory:
        if name in SIMULATORS:
            raise RuntimeError(f"simulator {name!r} registered twice")
        doc = description or (factory.__doc__ or "").strip().split("\n")[0]
        SIMULATORS[name] = SimSpec(name, doc, default_port, factory)
        return factory

    return deco


def load_builtin_sims() -> dict[str, SimSpec]:
    """Import every simulator module of this package so each registers itself.

    Adding a simulator is adding a module: nothing else needs editing.
    """
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name not in _HELPERS and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return SIMULATORS


@dataclass(frozen=True)
class StartedSim:
    """A simulator running in this process; ``close()`` stops it and frees the port."""

    name: str
    url: str                 # http://127.0.0.1:PORT, the actual port even when 0 was asked
    port: int
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_sims(names: list[str] | None = None, host: str = "127.0.0.1",
                     ports: dict[str, int] | None = None) -> list[StartedSim]:
    """Start the named simulators (None or empty: all), each on its own ``AppRunner``.

    ``ports`` overrides a simulator's ``default_port``; 0 picks a free port. Unknown names raise
    ``ValueError`` before anything starts; if one fails to bind, those already started are closed.
    """
    specs = load_builtin_sims()
    wanted = list(names) if names else list(specs)
    unknown = [n for n in wanted if n not in specs]
    if unknown:
        raise ValueError(f"unknown simulator(s): {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(specs))}")
    ports = ports or {}
    started: list[StartedSim] = []
    try:
        for name in wanted:
            spec = specs[name]
            runner = web.AppRunner(spec.factory(), access_log=None,
                                   shutdown_timeout=SHUTDOWN_TIMEOUT)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, ports.get(name, spec.default_port)).start()
            except BaseException:
                await runner.cleanup()
                raise
            port = int(runner.addresses[0][1])
            url_host = f"[{host}]" if ":" in host else host
            started.append(StartedSim(name, f"http://{url_host}:{port}", port, runner))
    except BaseException:
        await close_sims(started)
        raise
    return started


async def close_sims(sims: list[StartedSim]) -> None:
    """Close simulators in reverse start order."""
    for sim in reversed(sims):
        await sim.close()
