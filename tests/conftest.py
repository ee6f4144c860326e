"""Suite-wide: the shipped routes.yaml's store goes to a temporary file, not the work tree."""

from __future__ import annotations

import os
import tempfile

_STORE_DIR = tempfile.mkdtemp(prefix="bridge-test-store-")
os.environ.setdefault("BRIDGE_STORE", f"sqlite:///{_STORE_DIR}/bridge.db")


def missing_tool(what: str) -> None:
    """A system tool a test drives is absent: fail under CI (.ci/run installs it, so absence
    there is a broken setup, never a silent pass); elsewhere tell the developer and step aside."""
    import pytest

    message = f"{what} is not installed (.ci/run installs it from Debian's packages)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
