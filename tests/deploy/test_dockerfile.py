"""deploy/Dockerfile, read as Docker reads it (no engine on CI machines), and its two commands run.

What the image promises: python:3.11-slim based, non-root, routes.yaml and transforms/ baked in,
HEALTHCHECK on /healthz without curl, exec-form ENTRYPOINT/CMD so SIGTERM reaches the bridge,
port 8080. The HEALTHCHECK and ENTRYPOINT+CMD are then run for real, with this checkout's
python and paths standing in for the image's, against a bridge that must drain and exit 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.deploy.prom import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "dangling line continuation"
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def one(stage: list[tuple[str, str]], word: str) -> str:
    found = [a for w, a in stage if w == word]
    assert len(found) == 1, f"expected one {word}, found {found}"
    return found[0]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for w, a in stage:
        if w == "ENV":
            for pair in a.split():
                k, _, v = pair.partition("=")
                env[k] = v
    return env


def test_base_image_is_python_311_slim():
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for w, a in instructions() if w == "ARG" and "=" in a}
    froms = [a for w, a in instructions() if w == "FROM"]
    images = [args.get(f.split()[0].strip("${}"), f.split()[0]) for f in froms]
    assert images and all(i.startswith("python:3.11-slim") for i in images), images


def test_runs_as_a_non_root_user_that_exists():
    stage = final_stage()
    user = one(stage, "USER")
    uid = user.split(":")[0]
    assert uid not in ("0", "root", "")
    run = " ".join(a for w, a in stage if w == "RUN")
    assert f"--uid {uid}" in run, "USER names a uid the image never creates"


def test_healthcheck_hits_healthz_without_curl():
    hc = one(final_stage(), "HEALTHCHECK")
    options, _, cmd = hc.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = exec_form(cmd)
    assert argv[0] == "python" and "/healthz" in " ".join(argv)
    assert not {"curl", "wget"} & set(" ".join(argv).split())


def test_exec_form_entrypoint_and_cmd_serve_the_baked_routes():
    stage = final_stage()
    argv = exec_form(one(stage, "ENTRYPOINT")) + exec_form(one(stage, "CMD"))
    assert argv[:3] == ["python", "-m", "bridge"] and argv[3] == "serve"
    config = argv[argv.index("-c") + 1]
    workdir = one(stage, "WORKDIR")
    copies = {a.split()[-1] for w, a in stage if w == "COPY" and not a.startswith("--from")}
    baked = {str(Path(workdir) / d) if not d.startswith("/") else d for d in copies}
    assert config in baked, (config, baked)
    assert str(Path(workdir) / "transforms") in baked      # glossaries beside routes.yaml
    assert one(stage, "EXPOSE") == "8080"
    assert one(stage, "STOPSIGNAL") == "SIGTERM"
    assert env_of(stage)["BRIDGE_LISTEN"].endswith(":8080")


def test_every_copied_source_exists_and_passes_dockerignore():
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for w, a in instructions():
        if w != "COPY" or a.startswith("--from"):
            continue
        for src in a.split()[:-1]:
            assert (ROOT / src).exists(), src
            assert src.rstrip("/") in allowed, f"{src} is excluded by .dockerignore"


def _healthcheck(env: dict[str, str]) -> int:
    argv = exec_form(one(final_stage(), "HEALTHCHECK").partition("CMD ")[2])
    return subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True,
                          timeout=10).returncode


OPERATOR_SECRETS = {"EXAM_SYSTEM_ID": "exam-id-from-ops", "EXAM_SYSTEM_KEY": "exam-key-from-ops",
                    "IMAGING_TOKEN": "0123456789abcdef0123456789abcdef",
                    "TOP_APP_KEY": "top-key-from-ops", "TOP_APP_SECRET": "top-secret-from-ops"}


def test_image_commands_run_healthcheck_passes_and_sigterm_exits_zero(tmp_path):
    stage = final_stage()
    argv = exec_form(one(stage, "ENTRYPOINT")) + exec_form(one(stage, "CMD"))
    argv[0] = sys.executable
    argv[argv.index("-c") + 1] = str(ROOT / "routes.yaml")    # /app/routes.yaml in the image
    port = free_port()
    # the operator's --env-file (secrets: the image refuses the dev-only defaults); the store's
    # image path /var/lib/bridge is reproduced by tests/deploy/test_smoke.py, here a temp file
    env = {**os.environ, **env_of(stage), "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
           "BRIDGE_LISTEN": f"127.0.0.1:{port}", **OPERATOR_SECRETS,
           "BRIDGE_STORE": f"sqlite:///{tmp_path}/bridge.db"}
    log = (tmp_path / "bridge.log").open("w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        for _ in range(100):                                  # bounded: up to ~10 s to start
            if _healthcheck(env) == 0:
                break
            assert proc.poll() is None, (tmp_path / "bridge.log").read_text()
            time.sleep(0.1)
        assert _healthcheck(env) == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "bridge.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
    assert '"draining"' in (tmp_path / "bridge.log").read_text()
    assert _healthcheck(env) != 0                             # nothing listens any more


def test_build_is_reproducible_base_by_digest_dependencies_by_hash():
    """The base image is pinned by digest; dependencies come from deploy/requirements.lock (made
    by `make lock`), every line pinned with hashes and installed with --require-hashes; the
    lock covers every runtime dependency of pyproject.toml and the `nats` extra."""
    import re
    import tomllib

    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for w, a in instructions() if w == "ARG" and "=" in a}
    for image in {args.get(a.split()[0].strip("${}"), a.split()[0]) for w, a in instructions() if w == "FROM"}:
        assert re.fullmatch(r"[\w.:/-]+@sha256:[0-9a-f]{64}", image), image
    run = " ".join(a for w, a in instructions() if w == "RUN")
    assert "--require-hashes" in run and "requirements.lock" in run
    assert re.search(r"pip install [^&]*--no-deps[^&]* \.", run), "the package must add no unlocked deps"
    lock = (ROOT / "deploy" / "requirements.lock").read_text(encoding="utf-8")
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[a-z0-9])", lock):
        m = re.match(r"([a-z0-9._-]+)==([^\s;\\]+)", block)
        if m:
            assert "--hash=sha256:" in block, f"{m.group(1)} has no hash"
            pins[m.group(1).replace("_", "-")] = m.group(2)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["nats"]
    for req in wanted:
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0).lower().replace("_", "-")
        assert name in pins, f"{name} is not in deploy/requirements.lock: run `make lock`"
