"""Suite-wide: the shipped routes.yaml's store goes to a temporary file, not the work tree."""

from __future__ import annotations

import os
import tempfile

_STORE_DIR = tempfile.mkdtemp(prefix="bridge-test-store-")
os.environ.setdefault("BRIDGE_STORE", f"sqlite:///{_STORE_DIR}/bridge.db")
