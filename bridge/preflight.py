"""What `bridge check` and `bridge serve` verify before anything listens (DESIGN §4, §8).

- **Drivers.** A store or target whose library is not installed is named with the `pip install`
  line that brings it, instead of a ModuleNotFoundError traceback at the first message.
- **Development defaults.** The shipped routes.yaml gives every secret a `${VAR:-dev-only-...}`
  default so `bridge serve --with-sim` runs out of the box. Outside a development run
  (`--with-sim`, or `BRIDGE_ENV=dev`) a value still at such a default stops start-up, naming the
  variable to set: production never runs on a key that is in the repository.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Mapping

#: Defaults starting with this are development-only by convention (routes.yaml, docs).
DEV_PREFIX = "dev-only"

_DEV_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-(" + re.escape(DEV_PREFIX) + r"[^}]*)\}")


def missing_drivers(config: Any) -> list[str]:
    """One line per configured store or target whose Python library is not importable."""
    from bridge.delivery import store_driver

    problems: list[str] = []
    need = store_driver(config.store)
    if need is not None:
        module, extra = need
        if not _importable(module):
            scheme = config.store.partition("://")[0]
            problems.append(f"store {scheme}:// needs the Python package {module!r}, which is not "
                            f"installed: pip install 'bridge[{extra}]'")
    return problems


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def dev_defaults(config_path: str | Path, env: Mapping[str, str]) -> list[str]:
    """The variables whose unset value leaves a `dev-only` default in the config, in file order."""
    try:
        text = Path(config_path).read_text(encoding="utf-8")
    except OSError:
        return []
    names: list[str] = []
    for m in _DEV_DEFAULT.finditer(text):
        name = m.group(1)
        if not env.get(name) and name not in names:
            names.append(name)
    return names


def is_dev_run(with_sim: bool, env: Mapping[str, str]) -> bool:
    return with_sim or env.get("BRIDGE_ENV", "").strip().lower() in ("dev", "development")


def refusal(config_path: str | Path, config: Any, *, with_sim: bool, env: Mapping[str, str]) -> str | None:
    """The one line `serve` prints when it must not start, or None."""
    drivers = missing_drivers(config)
    if drivers:
        return "; ".join(drivers)
    if not is_dev_run(with_sim, env):
        names = dev_defaults(config_path, env)
        if names:
            return (f"refusing to start: {', '.join(names)} still at the development default of "
                    f"{Path(config_path).name}; set {'it' if len(names) == 1 else 'them'} in the "
                    f"environment (or BRIDGE_ENV=dev for a development run)")
    return None
