"""Deploy smoke test: start what deploy/ ships, the way the cluster or the container engine would.

`kubectl kustomize` renders deploy/k8s (one replica, SQLite on a volume) and deploy/k8s-nats
(several replicas on JetStream); tests/deploy/podroot.py lays each container out on disk as its
manifest and the Dockerfile say (read-only config mount, read-only root, non-root uid, the
rendered env) and starts it. Required: `/readyz` 200, one routed request answered, SIGTERM exits
0; for the NATS variant, two instances deliver 1,000 queued messages with one SIGKILLed midway
and none lost. The only values replaced are the ones an operator replaces: target URLs (the
example.org placeholders point at local stand-ins) and the JetStream address.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bridge.sim import load_builtin_sims, start_sims
from bridge.testing import free_port
from tests.conftest import missing_tool
from tests.delivery_nats.conftest import nats_url  # noqa: F401  (fixture: a private JetStream)
from tests.deploy import podroot, test_k8s
from tests.deploy.test_dockerfile import OPERATOR_SECRETS   # an operator's --env-file

ROOT = Path(__file__).resolve().parents[2]

REFERRAL = ("<referral><orderid>c8e72a5f9670</orderid><fqyydm>PDY1234567890</fqyydm>"
            "<fqyymc>测试医疗机构</fqyymc><fqksdm>KS00110</fqksdm><fqksmc>测试科室</fqksmc>"
            "<fqysgh>YS9900</fqysgh><fqysxm>测试医生</fqysxm><hzxm>测试患者</hzxm><jzkh>A01234567</jzkh>"
            "<jzklx>0</jzklx><sfzh>3306XXXXXXXXXXXX</sfzh><csrq>20130101</csrq><lxdh>13400001234</lxdh>"
            "<cbzd>初步诊断</cbzd><mzzycxbz>zy</mzzycxbz></referral>").encode()



@pytest.fixture(scope="module")
def can_run() -> None:
    missing = podroot.tools_missing()
    if missing:
        missing_tool(", ".join(missing))
    why = podroot.can_unshare()
    if why is not None:
        missing_tool(f"mount namespaces ({why})")


def render(folder: str) -> list[dict[str, Any]]:
    return test_k8s.render(ROOT / "deploy" / folder)


class Pod:
    """One started container: its process, its log, and where its volumes are on the host."""

    def __init__(self, container: podroot.Container, scratch: Path) -> None:
        self.container = container
        self.scratch = scratch
        self.port = int(container.env["BRIDGE_LISTEN"].rpartition(":")[2])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = scratch / "pod.log"
        self.proc = podroot.start(podroot.Image.from_dockerfile(), container, scratch, self.log)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def ready(self, s: aiohttp.ClientSession, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()}"
            try:
                async with s.get(self.url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"/readyz never 200:\n{self.text()}")

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, 40)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def listen_locally(container: podroot.Container) -> None:
    """The pod's own IP is the host's loopback here: give each its own port."""
    container.env["BRIDGE_LISTEN"] = f"127.0.0.1:{free_port()}"


@pytest.fixture
async def referral_sim() -> AsyncIterator[str]:
    load_builtin_sims()
    sims = await start_sims(["referral"], ports={"referral": 0})
    try:
        yield sims[0].url
    finally:
        for sim in sims:
            await sim.close()


async def routed_request(s: aiohttp.ClientSession, pod: Pod) -> None:
    async with s.post(pod.url + "/referral/api/SxzzAppServlet", data=REFERRAL,
                      headers={"Content-Type": "text/xml; charset=utf-8"}) as r:
        body = await r.text()
        assert r.status == 200, body + pod.text()
    assert "<result>true</result>" in body and "referralCode=" in body, body


def no_traceback(pod: Pod) -> None:
    assert "Traceback" not in pod.text(), pod.text()


async def test_k8s_single_replica_starts_serves_and_stops(tmp_path: Path, can_run: None,
                                                         referral_sim: str) -> None:
    docs = render("k8s")
    image = podroot.Image.from_dockerfile()
    container = podroot.k8s_container(image, docs, tmp_path)
    assert container.read_only_root and container.uid != 0
    config_mount = next(v for v in container.volumes if v.path == "/etc/bridge")
    assert config_mount.read_only
    listen_locally(container)
    container.env["REFERRAL_URL"] = referral_sim          # the operator's own URL
    pod = Pod(container, tmp_path)
    try:
        async with aiohttp.ClientSession() as s:
            await pod.ready(s)
            await routed_request(s, pod)
            async with s.get(pod.url + "/healthz") as r:
                assert r.status == 200
                assert r.headers["Server"] == "bridge"    # no Python/aiohttp version
        assert await pod.stop() == 0, pod.text()
    finally:
        pod.kill()
    data = next(v for v in container.volumes if v.path == "/var/lib/bridge")
    assert (data.source / "bridge.db").is_file(), "the store is not on the data volume"
    assert not list(config_mount.source.rglob("*.db")), "nothing may be written beside routes.yaml"
    no_traceback(pod)


async def test_image_runtime_layout_starts_serves_and_stops(tmp_path: Path, can_run: None,
                                                            referral_sim: str) -> None:
    """`docker run --env-file ops.env -v data:/var/lib/bridge IMAGE`: the Dockerfile's ENTRYPOINT,
    CMD, USER, WORKDIR and ENV, /app read-only to the user, the store on the image's volume."""
    image = podroot.Image.from_dockerfile()
    assert image.uid != 0
    env = {**OPERATOR_SECRETS, "REFERRAL_URL": referral_sim}
    container = podroot.image_container(image, env=env)
    listen_locally(container)
    pod = Pod(container, tmp_path)
    try:
        async with aiohttp.ClientSession() as s:
            await pod.ready(s)
            await routed_request(s, pod)
        assert await pod.stop() == 0, pod.text()
    finally:
        pod.kill()
    no_traceback(pod)


async def test_image_refuses_to_start_on_dev_only_secrets(tmp_path: Path, can_run: None) -> None:
    """`docker run IMAGE` with no secrets: one line naming the variables, no traceback, exit 2."""
    image = podroot.Image.from_dockerfile()
    container = podroot.image_container(image)
    listen_locally(container)
    pod = Pod(container, tmp_path)
    try:
        code = await asyncio.to_thread(pod.proc.wait, 30)
    finally:
        pod.kill()
    assert code == 2, pod.text()
    assert "EXAM_SYSTEM_ID" in pod.text() and "TOP_APP_SECRET" in pod.text(), pod.text()
    no_traceback(pod)


# --- several replicas on JetStream --------------------------------------------------------------

class CountingPlatform:
    """The registration platform's stopWorkNotice answer (seed 001 §2.2: ResultCode 0), counting
    which queued messages arrived by their Idempotency-Key."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(0.2)        # a slow platform: deliveries are in flight when one dies
        self.keys.append(request.headers.get("Idempotency-Key", ""))
        body = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
                'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                '<ns:stopWorkNoticeResponse xmlns:ns="http://platform.example/ws"><return>'
                '&lt;Response&gt;&lt;ResultCode&gt;0&lt;/ResultCode&gt;&lt;ErrorMsg&gt;&lt;/ErrorMsg&gt;'
                '&lt;/Response&gt;</return></ns:stopWorkNoticeResponse></soap:Body></soap:Envelope>')
        return web.Response(text=body, content_type="text/xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_k8s_nats_two_replicas_lose_nothing_when_one_is_killed(
        tmp_path: Path, can_run: None, nats_url: str) -> None:  # noqa: F811
    docs = render("k8s-nats")
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    assert dep["spec"]["replicas"] >= 2
    assert {d["kind"] for d in docs} >= {"HorizontalPodAutoscaler", "PodDisruptionBudget"}
    image = podroot.Image.from_dockerfile()
    platform = CountingPlatform()
    await platform.start()
    stream = f"SMOKE{uuid.uuid4().hex[:8].upper()}"
    pods: list[Pod] = []
    try:
        for i in range(2):
            scratch = tmp_path / f"pod{i}"
            scratch.mkdir()
            container = podroot.k8s_container(image, docs, scratch)
            assert container.env["BRIDGE_STORE"].startswith("nats://")
            container.env["BRIDGE_STORE"] = f"{nats_url}?stream={stream}&prefix={stream.lower()}"
            container.env["REGISTRATION_PLATFORM_URL"] = platform.url
            listen_locally(container)
            pods.append(Pod(container, scratch))
        total = 1000
        acked: list[str] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as s:
            for pod in pods:
                await pod.ready(s)

            async def send(n: int) -> None:
                pod = pods[n % 2] if pods[0].proc.poll() is None else pods[1]
                body = {"transaction_id": f"T{n}", "hospital_no": f"H{n % 50:03d}",
                        "records": [{"work_id": f"W{n}", "stop_reason": "医生出差"}]}
                async with s.post(pod.url + "/registration/stop/queued", json=body) as r:
                    assert r.status == 200, await r.text()
                    acked.append((await r.json())["message_id"])

            await asyncio.gather(*(send(n) for n in range(total // 2)))
            pods[0].kill()                                     # SIGKILL, mid-delivery
            pending_at_kill = len(set(acked) - set(platform.keys))
            await asyncio.gather(*(send(n) for n in range(total // 2, total)))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not set(acked) <= set(platform.keys):
                await asyncio.sleep(0.2)
        assert len(acked) == total
        assert pending_at_kill > 0, "nothing was in flight when the instance died"
        missing = set(acked) - set(platform.keys)
        assert not missing, f"{len(missing)} acknowledged messages never delivered"
        assert await pods[1].stop() == 0, pods[1].text()
        no_traceback(pods[1])
    finally:
        for pod in pods:
            pod.kill()
        await platform.close()


def test_rendered_target_urls_are_origins_the_routes_extend() -> None:
    """TOP_URL + the route's /router/rest must not become /router/rest/router/rest: every URL the
    bridge-env ConfigMap sets is an origin (the shipped routes add their own paths)."""
    from urllib.parse import urlparse

    for folder in ("k8s", "k8s-nats"):
        env = next(d for d in render(folder) if d["kind"] == "ConfigMap"
                   and d["metadata"]["name"].startswith("bridge-env"))["data"]
        for name, value in env.items():
            if name.endswith("_URL"):
                assert urlparse(value).path in ("", "/"), f"{folder}: {name}={value} has a path"
