"""The shipped queued route against the registration platform simulator: acked, then delivered."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bridge.sim import load_builtin_sims, start_sims
from bridge.testing import running_bridge

ROOT = Path(__file__).resolve().parents[2]


async def test_stop_work_notice_is_acknowledged_then_delivered(tmp_path: Path) -> None:
    load_builtin_sims()
    sims = await start_sims(["registration_platform"], ports={"registration_platform": 0})
    env = {"REGISTRATION_PLATFORM_URL": sims[0].url, "BRIDGE_STORE": f"sqlite:///{tmp_path}/q.db"}
    try:
        async with running_bridge(ROOT / "routes.yaml", env) as bridge, aiohttp.ClientSession() as s:
            body = {"transaction_id": "Q-1", "hospital_no": "H001",
                    "records": [{"work_id": "W1001", "stop_reason": "医生出差"}]}
            async with s.post(bridge.url + "/registration/stop/queued", json=body) as r:
                assert r.status == 200
                reply = await r.json()
            assert reply["result_code"] == 0 and len(reply["message_id"]) == 32
            deadline = time.monotonic() + 10
            seen: list[dict] = []  # type: ignore[type-arg]
            while time.monotonic() < deadline:
                async with s.get(sims[0].url + "/_sim/requests") as r:
                    seen = [q for q in await r.json() if q.get("operation") == "stopWorkNotice"]
                if seen:
                    break
                await asyncio.sleep(0.05)
            assert len(seen) == 1
            assert seen[0]["headers"]["Idempotency-Key"] == reply["message_id"]
            assert "W1001" in str(seen[0]["document"])
    finally:
        for sim in sims:
            await sim.close()
