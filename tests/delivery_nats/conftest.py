"""A private nats-server with JetStream for the NATS store tests, one per test session.

Started from the binary (Debian's `nats-server`, which .ci/run installs) on a free loopback
port with a temporary store dir, and stopped by its PID. The tests skip only when the binary is
absent; they never touch a NATS server they did not start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from typing import AsyncIterator, Iterator

import pytest

from tests.conftest import missing_tool

from tests.delivery.conftest import Target, free_port


def nats_binary() -> str | None:
    found = shutil.which("nats-server")
    if found:
        return found
    for candidate in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = nats_binary()
    if binary is None:
        missing_tool("nats-server")
    port = free_port()
    store_dir = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, "nats-server exited at start"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target(free_port())
    yield t
    await t.stop()


@pytest.fixture
def store_url(nats_url: str) -> str:
    """A stream of this test's own, so tests never see each other's messages."""
    name = "T" + uuid.uuid4().hex[:10].upper()
    return f"{nats_url}?stream={name}&prefix={name.lower()}&ack_wait=2"


async def settled_depth(store, want):  # type: ignore[no-untyped-def]
    """The stream's per-subject counts follow acks and terms a moment later: poll (bounded)."""
    import asyncio
    depth = await store.depth()
    for _ in range(50):
        if depth == want:
            break
        await asyncio.sleep(0.05)
        depth = await store.depth()
    return depth

