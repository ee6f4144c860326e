"""Outbound connectors: the seam where queued delivery, other transports and signing plug in.

A connector is built per target from its config and exposes ``async call(request) -> Reply``.
Only ``http`` exists today; ``type:`` in a target selects one.
"""

from __future__ import annotations

from bridge.connectors.http import HttpTarget

CONNECTORS = {"http": HttpTarget}
