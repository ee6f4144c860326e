"""deploy/k8s/ as it would be applied: rendered by `kubectl kustomize` when kubectl is there,
else by a minimal stand-in (resources + generated ConfigMaps), then checked for what the issue
asks and for drift against routes.yaml (every secret, target URL and glossary it reads)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.testing import load_runtime
from tests.conftest import missing_tool
from tests.deploy.test_dockerfile import final_stage, one

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_NATS = ROOT / "deploy" / "k8s-nats"
ROUTES = ROOT / "routes.yaml"
KUBECTL = shutil.which("kubectl")


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


def render(folder: Path) -> list[dict[str, Any]]:
    if KUBECTL is None:
        missing_tool("kubectl (Debian package kubernetes-client)")
    out = subprocess.run([str(KUBECTL), "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                          str(folder)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    """deploy/k8s: one replica, SQLite on the pod's data volume."""
    return render(K8S)


@pytest.fixture(scope="module")
def rendered_nats() -> list[dict[str, Any]]:
    """deploy/k8s-nats: the same, several replicas on a shared JetStream queue."""
    return render(K8S_NATS)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def the(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = by_kind(docs, kind)
    return doc


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = the(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def configmap(docs: list[dict[str, Any]], base: str) -> dict[str, Any]:
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if re.fullmatch(base + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
    return cm


def env_vars(section: Any) -> set[str]:
    return set(re.findall(r"\$\{(\w+)", yaml.safe_dump(section)))


def test_expected_kinds(rendered, rendered_nats):
    assert sorted(d["kind"] for d in rendered) == ["ConfigMap", "ConfigMap", "Deployment", "Secret",
                                                   "Service"]
    assert sorted(d["kind"] for d in rendered_nats) == [
        "ConfigMap", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "Secret", "Service"]
    for d in rendered + rendered_nats:
        assert d["apiVersion"] and d["metadata"]["name"]
    monitor = yaml.safe_load((K8S / "servicemonitor.yaml").read_text())
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= the(rendered, "Service")["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in the(rendered, "Service")["spec"]["ports"]}


def test_probes_ports_and_scrape_annotations(rendered):
    c = container(rendered)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] in ports
    listen = {e["name"]: e.get("value") for e in c["env"]}["BRIDGE_LISTEN"]
    assert int(listen.rpartition(":")[2]) == ports["http"]
    ann = the(rendered, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
    assert int(ann["prometheus.io/port"]) == ports["http"]


def test_grace_period_outlasts_the_drain(rendered):
    """SIGTERM: wait drain_timeout for in-flight, then server and worker shutdown each bounded
    by it (bridge/cli.py serve, bridge/app.py _delivery); the preStop pause comes first."""
    drain = load_runtime(ROUTES).config.server.drain_timeout
    spec = the(rendered, "Deployment")["spec"]["template"]["spec"]
    pre_stop = container(rendered)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] > float(pre_stop[1]) + 3 * drain


def test_resources_security_and_rollout(rendered):
    c = container(rendered)
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind])
    pod = the(rendered, "Deployment")["spec"]["template"]["spec"]
    uid = one(final_stage(), "USER").split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == uid
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert the(rendered, "Deployment")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_service_hpa_and_pdb_select_the_deployment(rendered_nats):
    rendered = rendered_nats
    dep = the(rendered, "Deployment")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = the(rendered, "Service")
    assert svc["spec"]["selector"].items() <= labels.items()
    names = {p["name"] for p in container(rendered)["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= names
    assert the(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = the(rendered, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert any(m["resource"]["name"] == "cpu" for m in hpa["metrics"])


def test_secret_holds_every_secret_routes_yaml_reads_as_placeholders(rendered):
    doc = yaml.safe_load(ROUTES.read_text(encoding="utf-8"))
    secret = the(rendered, "Secret")
    values = secret.get("stringData", {})
    assert set(values) == env_vars(doc["secrets"])
    assert all(v.startswith("CHANGE-ME") for v in values.values())
    refs = {e.get("secretRef", {}).get("name") for e in container(rendered)["envFrom"]}
    assert secret["metadata"]["name"] in refs


def test_env_configmap_names_every_target_url(rendered):
    doc = yaml.safe_load(ROUTES.read_text(encoding="utf-8"))
    cm = configmap(rendered, "bridge-env")
    assert set(cm["data"]) == env_vars(doc["targets"]) | {"BRIDGE_STORE"}
    refs = {e.get("configMapRef", {}).get("name") for e in container(rendered)["envFrom"]}
    assert cm["metadata"]["name"] in refs


def test_routes_configmap_is_the_shipped_routes_with_every_file_they_read(rendered):
    cm = configmap(rendered, "bridge-routes")
    assert cm["data"]["routes.yaml"] == ROUTES.read_text(encoding="utf-8")
    pod = the(rendered, "Deployment")["spec"]["template"]["spec"]
    (vol,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    items = {i["path"]: i["key"] for i in vol["configMap"]["items"]}
    referenced = set(re.findall(r"(transforms/[\w./-]+\.(?:yaml|yml|xsd|json))", ROUTES.read_text()))
    assert referenced, "routes.yaml references no files? the pattern is out of date"
    assert set(items) == referenced | {"routes.yaml"}
    for path, key in items.items():
        assert cm["data"][key] == (ROOT / path).read_text(encoding="utf-8"), path
    (mount,) = [m for m in container(rendered)["volumeMounts"] if m["name"] == vol["name"]]
    args = container(rendered)["args"]
    assert args[args.index("-c") + 1] == f"{mount['mountPath']}/routes.yaml"


def test_mounted_layout_passes_bridge_check(rendered, tmp_path):
    """Lay the ConfigMap out as the pod sees it and load it: the routes compile there."""
    cm = configmap(rendered, "bridge-routes")
    pod = the(rendered, "Deployment")["spec"]["template"]["spec"]
    (vol,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    for item in vol["configMap"]["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cm["data"][item["key"]], encoding="utf-8")
    runtime = load_runtime(tmp_path / "routes.yaml")
    assert len(runtime.routes) == len(load_runtime(ROUTES).routes)


def test_store_is_on_a_writable_volume_and_several_replicas_share_nats(rendered, rendered_nats):
    """One replica: BRIDGE_STORE is a SQLite file on the writable data volume, never beside the
    read-only routes mount. Several: the overlay's BRIDGE_STORE is a nats:// URL."""
    store = configmap(rendered, "bridge-env")["data"]["BRIDGE_STORE"]
    assert store.startswith("sqlite:////")
    mounts = {m["mountPath"]: m for m in container(rendered)["volumeMounts"]}
    path = store[len("sqlite:///"):]
    (home,) = [m for p, m in mounts.items() if path.startswith(p.rstrip("/") + "/")]
    assert not home.get("readOnly", False)
    assert the(rendered, "Deployment")["spec"]["replicas"] == 1
    assert configmap(rendered_nats, "bridge-env")["data"]["BRIDGE_STORE"].startswith("nats://")
    assert the(rendered_nats, "Deployment")["spec"]["replicas"] >= 2
