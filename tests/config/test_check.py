"""`bridge check` as users run it: a real subprocess, `FILE:LINE:COL: dotted.path: message` lines.

Positions are computed from the text written, so the tests say exactly where each error points.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from bridge.config import load
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def bridge(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "T_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def pos(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of ``needle`` in ``text``."""
    idx = -1
    for _ in range(nth):
        idx = text.index(needle, idx + 1)
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def test_shipped_routes_yaml_is_valid() -> None:
    res = bridge("check", "-c", str(ROOT / "routes.yaml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok" in res.stdout
    n = len(yaml.safe_load((ROOT / "routes.yaml").read_text(encoding="utf-8"))["routes"])
    assert f"{n} routes" in res.stdout


BROKEN = textwrap.dedent("""\
    version: 1
    targets:
      platform:
        url: http://127.0.0.1:9101
        timeout: fast
        headers:
          X-Token: ${NOPE}
    routes:
      - name: typo
        inbound:
          path: /a
          format: xml
          matc: {root: a}
        outbound: {target: platform}
      - name: nopath
        inbound:
          format: json
        outbound: {target: platform}
      - name: compiled
        inbound: {path: /c, format: xml, match: {root: c}}
        pipeline:
          - renam: {map: {x: y}}
        outbound:
          target: platfrom
      - name: dup
        inbound: {path: /d, format: xml, match: {root: d}}
        outbound:
          target: platform
          target: platform
    """)


def test_broken_config_reports_every_error_with_its_position(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.yaml"
    cfg.write_text(BROKEN)
    res = bridge("check", "-c", str(cfg))
    assert res.returncode == 1
    f = str(cfg)
    expected = [
        (pos(BROKEN, "fast"), "targets.platform.timeout", "expected a duration like 5s or 100ms, got 'fast'"),
        (pos(BROKEN, "${NOPE}"), "targets.platform.headers.X-Token", "environment variable NOPE is not set"),
        (pos(BROKEN, "matc:"), "routes.0.inbound.matc", "unknown key 'matc' (did you mean 'match'?)"),
        # a missing key points at the mapping that lacks it
        (pos(BROKEN, "inbound:", 2), "routes.1.inbound.path", "required key is missing"),
        (pos(BROKEN, "renam:"), "routes.2.pipeline.0.renam", "unknown step 'renam' (did you mean 'rename'?)"),
        (pos(BROKEN, "platfrom"), "routes.2.outbound.target",
         "unknown target 'platfrom' (did you mean 'platform'?)"),
        (pos(BROKEN, "target: platform", 4), "routes.3.outbound.target", "duplicate key 'target'"),
    ]
    lines = res.stdout.splitlines()
    assert len(lines) == len(expected), res.stdout
    for ((line, col), path, message), got in zip(expected, lines):
        prefix = f"{f}:{line}:{col}: {path}: "
        assert got.startswith(prefix), (got, prefix)
        assert message in got, (got, message)
    assert f"{len(expected)} errors" in res.stderr


def test_wrong_literal_and_bad_listen_are_reported(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        version: 1
        server: {listen: nowhere}
        targets: {t: {url: ftp://x}}
        routes:
          - name: r
            inbound: {path: /r, format: yaml}
            outbound: {target: t}
        """)
    cfg = tmp_path / "r.yaml"
    cfg.write_text(text)
    res = bridge("check", "-c", str(cfg))
    assert res.returncode == 1
    out = res.stdout.splitlines()
    assert out[0].startswith(f"{cfg}:%d:%d: server.listen: expected HOST:PORT" % pos(text, "nowhere"))
    assert out[1].startswith(f"{cfg}:%d:%d: targets.t.url: expected an http" % pos(text, "ftp://x"))
    assert out[2].startswith(f"{cfg}:%d:%d: routes.0.inbound.format: " % pos(text, "yaml}"))
    assert "'xml'" in out[2] and "'form'" in out[2]


def test_invalid_yaml_syntax_has_line_and_column(tmp_path: Path) -> None:
    text = "version: 1\ntargets:\n  a: b: c\n"
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    res = bridge("check", "-c", str(cfg))
    assert res.returncode == 1
    line, col = pos(text, ": c")
    assert res.stdout.startswith(f"{cfg}:{line}:{col}: (top): invalid YAML:"), res.stdout


def test_unclosed_flow_mapping_is_a_yaml_error(tmp_path: Path) -> None:
    text = "version: 1\nroutes:\n  - name: x\n    inbound: {path: /a, format: xml\n  - name: y\n"
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(cfg, {})
    [error] = info.value.errors
    line, col = pos(text, ": y")  # where the parser noticed, the next mapping value
    assert error.startswith(f"{cfg}:{line}:{col}: (top): invalid YAML: "), error
    assert "flow mapping" in error


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "nope.yaml", {})
    assert info.value.errors == [f"{tmp_path / 'nope.yaml'}: file not found"]
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError) as info:
        load(empty, {})
    assert info.value.errors == [f"{empty}:1:1: (top): the file is empty"]
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as info:
        load(listy, {})
    assert info.value.errors == [f"{listy}:1:1: (top): expected a mapping with version, targets and routes"]


# -- ${VAR} interpolation ---------------------------------------------------------------

ENV_CFG = textwrap.dedent("""\
    version: 1
    targets:
      t:
        url: ${T_URL:-http://127.0.0.1:9}
    routes:
      - name: env.route
        inbound:
          path: ${T_PATH}
          format: xml
          match: {root: "${T_ROOT:-fallbackroot}"}
        outbound:
          target: t
          path: /lit/$${T_PATH}
    """)


def test_interpolation_through_bridge_routes(tmp_path: Path) -> None:
    cfg = tmp_path / "env.yaml"
    cfg.write_text(ENV_CFG)
    res = bridge("routes", "-c", str(cfg), env={"T_PATH": "/from/env"})
    assert res.returncode == 0, res.stdout + res.stderr
    row = next(line for line in res.stdout.splitlines() if line.startswith("env.route"))
    assert "/from/env" in row                      # ${X} set in the environment
    assert "root=fallbackroot" in row              # ${X:-default} unset -> default
    assert "/lit/${T_PATH}" in row                 # $${X} stays literal
    assert "/lit//from/env" not in row


def test_interpolation_through_load_directly(tmp_path: Path) -> None:
    cfg = tmp_path / "env.yaml"
    cfg.write_text(ENV_CFG)
    loaded = load(cfg, {"T_PATH": "/p", "T_URL": "http://10.0.0.1:8080/", "T_ROOT": ""})
    route = loaded.config.routes[0]
    assert route.inbound.path == "/p"
    assert loaded.config.targets["t"].url == "http://10.0.0.1:8080"
    assert route.inbound.match.root == "fallbackroot"   # empty with a default -> the default
    assert route.outbound.path == "/lit/${T_PATH}"


def test_unset_variable_without_default_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "env.yaml"
    cfg.write_text(ENV_CFG)
    with pytest.raises(ConfigError) as info:
        load(cfg, {})
    line, col = pos(ENV_CFG, "${T_PATH}")
    assert info.value.errors == [
        f"{cfg}:{line}:{col}: routes.0.inbound.path: environment variable T_PATH is not set "
        "(write ${T_PATH:-default} to give a default)"]


# -- relative paths ---------------------------------------------------------------------

GLOSSARY_CFG = textwrap.dedent("""\
    version: 1
    targets: {t: {url: "http://127.0.0.1:9"}}
    routes:
      - name: g
        inbound: {path: /g, format: xml, match: {root: g}}
        pipeline:
          - rename: {glossary: glossary/names.yaml}
        outbound: {target: t}
    """)


def test_relative_glossary_resolves_against_the_config_dir(tmp_path: Path) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "glossary").mkdir(parents=True)
    (conf_dir / "glossary" / "names.yaml").write_text("xm: name\n")
    (conf_dir / "routes.yaml").write_text(GLOSSARY_CFG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = bridge("check", "-c", "../conf/routes.yaml", cwd=elsewhere)
    assert res.returncode == 0, res.stdout + res.stderr
    # and not against the working directory: a glossary only there is not found
    (conf_dir / "glossary" / "names.yaml").unlink()
    (elsewhere / "glossary").mkdir()
    (elsewhere / "glossary" / "names.yaml").write_text("xm: name\n")
    res = bridge("check", "-c", "../conf/routes.yaml", cwd=elsewhere)
    assert res.returncode == 1
    line, col = pos(GLOSSARY_CFG, "{glossary")
    assert res.stdout.startswith(f"../conf/routes.yaml:{line}:{col}: routes.0.pipeline.0.rename: "), res.stdout
    assert "glossary not found" in res.stdout
