"""What `check` and `serve` refuse before anything listens: a store library that is not
installed (with the pip line to run), and secrets still at their dev-only defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bridge.testing import free_port

ROOT = Path(__file__).resolve().parents[1]

DEV_SECRETS = ("EXAM_SYSTEM_ID", "EXAM_SYSTEM_KEY", "IMAGING_TOKEN", "TOP_APP_KEY", "TOP_APP_SECRET")

NATS_CONFIG = """\
version: 1
store: "nats://127.0.0.1:4222"
targets:
  t: {url: "http://127.0.0.1:9"}
routes:
  - name: r
    inbound: {path: /r, format: json}
    outbound: {target: t, path: /x, format: json}
"""

#: runs the CLI with the `nats` package made unimportable, as in an install without the extra
WITHOUT_NATS = ("import sys; sys.modules['nats'] = None; from bridge.cli import main; "
                "raise SystemExit(main(sys.argv[1:]))")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BRIDGE_") and k not in DEV_SECRETS}
    env.update(extra)
    return env


def run(argv: list[str], env: dict[str, str], *, without_nats: bool = False,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    head = [sys.executable, "-c", WITHOUT_NATS] if without_nats else [sys.executable, "-m", "bridge"]
    return subprocess.run(head + argv, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_check_names_the_missing_store_library_and_the_pip_line(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(NATS_CONFIG, encoding="utf-8")
    done = run(["check", "-c", str(cfg)], clean_env(), without_nats=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pip install 'bridge[nats]'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    ok = run(["check", "-c", str(cfg)], clean_env())          # the library is there: fine
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_serve_refuses_a_missing_store_library_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(NATS_CONFIG, encoding="utf-8")
    done = run(["serve", "-c", str(cfg), "--listen", f"127.0.0.1:{free_port()}"], clean_env(),
               without_nats=True)
    assert done.returncode == 2
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'bridge[nats]'" in lines[0], lines


def test_serve_refuses_dev_only_secrets_naming_each_variable() -> None:
    done = run(["serve", "-c", "routes.yaml", "--listen", f"127.0.0.1:{free_port()}"], clean_env())
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    for name in DEV_SECRETS:
        assert name in out


def test_serve_names_only_the_variables_still_unset() -> None:
    env = clean_env(**{name: f"real-{name.lower()}" for name in DEV_SECRETS if name != "TOP_APP_SECRET"})
    env["IMAGING_TOKEN"] = "0123456789abcdef0123456789abcdef"
    done = run(["serve", "-c", "routes.yaml", "--listen", f"127.0.0.1:{free_port()}"], env)
    assert done.returncode == 2
    out = done.stdout + done.stderr
    assert "TOP_APP_SECRET" in out
    assert not any(name in out for name in DEV_SECRETS if name != "TOP_APP_SECRET"), out


def _starts(argv: list[str], env: dict[str, str]) -> None:
    """The process gets past the refusal: it is still running after it logged `listening`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bridge", *argv, "--listen", f"127.0.0.1:{port}"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert proc.stdout is not None
        for _ in range(400):                       # bounded: the log lines until `listening`
            line = proc.stdout.readline()
            if not line or '"listening"' in line:
                break
        assert proc.poll() is None and '"listening"' in line, line
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_development_runs_may_use_the_defaults(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/dev.db"
    _starts(["serve", "-c", "routes.yaml"], clean_env(BRIDGE_ENV="dev", BRIDGE_STORE=store))
    _starts(["serve", "-c", "routes.yaml", "--with-sim"], clean_env(BRIDGE_STORE=store))
