"""Correctness before timing: every peer must answer what the bridge answers (and send what it sends).

A transforming peer's reply is compared with the bridge's reply to the same request, and — when the
upstream is bench/upstream.py, which records bodies — the JSON it sent upstream with the JSON the
bridge sent. A pass-through peer (aiohttp raw, nginx) must return the upstream's canned reply and
forward the request bytes unchanged. A peer that fails is reported and never timed.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import orjson

from bench.workloads import Workload, same_reply


@dataclass
class Check:
    peer: str
    workload: str
    ok: bool
    detail: str = ""


async def post(session: aiohttp.ClientSession, url: str, w: Workload) -> tuple[int, bytes]:
    async with session.post(url + w.path, data=w.body, headers={"Content-Type": w.content_type}) as r:
        return r.status, await r.read()


async def last_received(session: aiohttp.ClientSession, upstream: str, path: str) -> bytes | None:
    async with session.get(upstream + "/_last", params={"path": path}) as r:
        return await r.read() if r.status == 200 else None


async def check_peer(session: aiohttp.ClientSession, name: str, url: str, w: Workload, *,
                     bridge_reply: bytes, bridge_sent: bytes | None, passthrough: bool,
                     recording_upstream: str | None) -> Check:
    """One request through the peer, compared with the bridge's reply (and upstream body, if recorded)."""
    try:
        status, body = await post(session, url, w)
    except aiohttp.ClientError as exc:
        return Check(name, w.name, False, f"request failed: {exc!r}")
    if status != 200:
        return Check(name, w.name, False, f"status {status}: {body[:300]!r}")
    if passthrough:
        ok, why = same_reply("json", body, orjson.dumps(w.upstream_reply))
        if ok and recording_upstream:
            sent = await last_received(session, recording_upstream, w.path)
            ok, why = sent == w.body, "forwarded body differs from the request"
        return Check(name, w.name, ok, "" if ok else why)
    ok, why = same_reply(w.reply_kind, body, bridge_reply)
    if not ok:
        return Check(name, w.name, False, "reply differs from the bridge's: " + why)
    if recording_upstream and bridge_sent is not None:
        sent = await last_received(session, recording_upstream, w.upstream_path)
        if sent is None or orjson.loads(sent) != orjson.loads(bridge_sent):
            return Check(name, w.name, False, f"sent upstream {sent!r:.300} != bridge's {bridge_sent!r:.300}")
    return Check(name, w.name, True)


async def check_all(peers: dict[str, tuple[str, bool]], w: Workload,
                    recording_upstream: str | None) -> list[Check]:
    """``peers``: name -> (url, passthrough); ``bridge`` must be among them and is the reference."""
    async with aiohttp.ClientSession() as session:
        status, bridge_reply = await post(session, peers["bridge"][0], w)
        bridge_sent = (await last_received(session, recording_upstream, w.upstream_path)
                       if recording_upstream else None)
        out = [Check("bridge", w.name, status == 200,
                     "" if status == 200 else f"status {status}: {bridge_reply[:300]!r}")]
        if status != 200:
            return out
        for name, (url, passthrough) in peers.items():
            if name != "bridge":
                out.append(await check_peer(session, name, url, w, bridge_reply=bridge_reply,
                                            bridge_sent=bridge_sent, passthrough=passthrough,
                                            recording_upstream=recording_upstream))
        return out
