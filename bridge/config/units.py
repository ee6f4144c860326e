"""Durations (``5s``, ``100ms``) and sizes (``2MiB``) as they are written in routes.yaml."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|k|K|M|G)?\s*$")
_DUR_UNITS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {None: 1, "B": 1, "KB": 1000, "k": 1000, "K": 1024, "KiB": 1024, "MB": 1000**2,
               "M": 1024**2, "MiB": 1024**2, "GB": 1000**3, "G": 1024**3, "GiB": 1024**3}


def parse_duration(value: Any) -> float:
    """Seconds from ``5s``, ``100ms``, ``2m``, ``1h`` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 5s or 100ms")
    if isinstance(value, (int, float)):
        return float(value)
    m = _DUR.match(str(value))
    if not m:
        raise ValueError(f"expected a duration like 5s or 100ms, got {value!r}")
    return float(m.group(1)) * _DUR_UNITS[m.group(2)]


def parse_size(value: Any) -> int:
    """Bytes from ``2MiB``, ``512KB``, ``1048576``."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 2MiB")
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size like 2MiB or 512KB, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
