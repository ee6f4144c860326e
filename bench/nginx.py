"""nginx configs: the canned upstream (fast, or +30 ms with the echo module) and the proxy_pass peer.

Both run one worker (the machine has two cores: the upstream and wrk share CPU 1, the server under
test has CPU 0). Files are rendered into the run's directory; nginx runs in the foreground with
that directory as its prefix, so it touches nothing under /etc or /var.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from bench.workloads import all_workloads

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")

_MAIN = """\
{load}{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    client_max_body_size 16m;
{body}
}}
"""


def has_echo() -> bool:
    return ECHO_MODULE.exists()


def _render(dir_: Path, body: str, echo: bool = False) -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    conf = dir_ / "nginx.conf"
    conf.write_text(_MAIN.format(
        load=f"load_module {ECHO_MODULE};\n" if echo else "",
        user="user root;\n" if os.geteuid() == 0 else "",
        dir=dir_, body=body))
    return conf


def upstream_conf(dir_: Path, port: int, delay_ms: int = 0) -> Path:
    """Canned JSON on every upstream path (and on the inbound paths, for the pass-through peers)."""
    locs = []
    seen = set()
    for w in all_workloads().values():
        reply = orjson.dumps(w.upstream_reply).decode()
        for path in (w.upstream_path, w.path):
            if path in seen:
                continue
            seen.add(path)
            if delay_ms:
                action = f"echo_sleep {delay_ms / 1000:.3f};\n            echo -n '{reply}';"
            else:
                action = f"return 200 '{reply}';"
            locs.append(f"        location = {path} {{\n            default_type application/json;\n"
                        f"            {action}\n        }}")
    body = f"    server {{\n        listen 127.0.0.1:{port};\n" + "\n".join(locs) + "\n    }"
    return _render(dir_, body, echo=bool(delay_ms))


def proxy_conf(dir_: Path, port: int, upstream_port: int) -> Path:
    """The proxy_pass peer as nginx users write it: an upstream block with keep-alive."""
    body = f"""\
    upstream target {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://target;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""
    return _render(dir_, body)


def command(conf: Path) -> list[str]:
    return ["nginx", "-p", str(conf.parent), "-c", str(conf)]
