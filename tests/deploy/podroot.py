"""Start the bridge the way a shipped manifest or the image would, without a container engine.

A container is a process with its own view of the filesystem, a user and an environment. This
module reproduces those parts from what `deploy/` declares, with the kernel's own tools:

- ``unshare -m``: a private mount namespace; an **overlay** of the host's ``/`` (writes go to a
  tmpfs, never to the host) is the pod's root, with ``/dev`` and ``/proc`` bound in;
- the **image**: the Dockerfile's final stage, read instruction by instruction: its ``COPY``
  sources laid out under ``WORKDIR`` (read-only to the user, as an image layer owned by root),
  ``COPY --from=build /opt/bridge`` as this test run's virtualenv bound read-only at the same
  path, ``RUN install -d`` directories, ``ENV``, ``USER``, ``WORKDIR``, ``ENTRYPOINT``/``CMD``;
- the **pod**: volumes at their ``mountPath`` (ConfigMap items as files, read-only when the
  manifest says so; ``emptyDir`` as an empty directory group-owned by ``fsGroup``, as the
  kubelet makes it), ``readOnlyRootFilesystem`` as a read-only overlay, ``runAsUser``/
  ``runAsGroup``/``fsGroup`` through ``setpriv`` (no capabilities left);
- then ``chroot`` and ``exec``: the PID returned is the bridge's own, so signals reach it as
  they would reach PID 1 of the container.

What is *not* reproduced (docs/operations.md says so too): the image's own Python and site-
packages (the bridge runs from this checkout's virtualenv, bound at ``/opt/bridge``, with the
package from the checkout), the pod network (the host's loopback is shared), cgroup limits,
seccomp and the image's OS files (the host's ``/`` stands in for the base image).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deploy.test_dockerfile import exec_form, final_stage

ROOT = Path(__file__).resolve().parents[2]
#: the base image's PATH (python:*-slim), which the Dockerfile's `ENV PATH=/opt/bridge/bin:$PATH` extends
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tools_missing() -> list[str]:
    return [t for t in ("unshare", "chroot", "setpriv", "mount") if shutil.which(t) is None]


def can_unshare() -> str | None:
    """Why a mount namespace with an overlay cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, overlayfs, chroot)"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs t $d && mkdir $d/u $d/w $d/r && "
                            "mount -t overlay o -o lowerdir=/,upperdir=$d/u,workdir=$d/w $d/r; "
                            "rc=$?; rmdir $d 2>/dev/null; exit $rc"],
                           capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"overlay in a mount namespace failed: {probe.stderr.strip()}"


# --- the Dockerfile's final stage ---------------------------------------------------------------

@dataclass
class Image:
    env: dict[str, str]
    workdir: str
    uid: int
    gid: int
    entrypoint: list[str]
    cmd: list[str]
    copies: list[tuple[list[str], str]]        # (sources in the build context, destination)
    from_build: list[str]                      # destinations copied from the build stage
    dirs: list[tuple[str, int, int, int]]      # RUN install -d: (path, uid, gid, mode)

    @classmethod
    def from_dockerfile(cls) -> "Image":
        stage = final_stage()
        env: dict[str, str] = {"PATH": BASE_PATH}
        workdir, user = "/", "0:0"
        entrypoint: list[str] = []
        cmd: list[str] = []
        copies: list[tuple[list[str], str]] = []
        from_build: list[str] = []
        dirs: list[tuple[str, int, int, int]] = []
        for word, rest in stage:
            if word == "ENV":
                for token in shlex.split(rest):
                    key, _, value = token.partition("=")
                    env[key] = re.sub(r"\$(\w+)|\$\{(\w+)\}",
                                      lambda m: env.get(m.group(1) or m.group(2), ""), value)
            elif word == "WORKDIR":
                workdir = rest if rest.startswith("/") else str(Path(workdir) / rest)
            elif word == "USER":
                user = rest
            elif word == "ENTRYPOINT":
                entrypoint = exec_form(rest)
            elif word == "CMD":
                cmd = exec_form(rest)
            elif word == "COPY":
                parts = shlex.split(rest)
                if parts[0].startswith("--from"):
                    from_build.append(parts[-1])
                else:
                    dest = parts[-1]
                    copies.append((parts[:-1], dest if dest.startswith("/") else str(Path(workdir) / dest)))
            elif word == "RUN":
                for m in re.finditer(r"install -d -o (\d+) -g (\d+) -m (\d+) (/\S+)", rest):
                    dirs.append((m.group(4), int(m.group(1)), int(m.group(2)), int(m.group(3), 8)))
        uid, _, gid = user.partition(":")
        return cls(env, workdir, int(uid), int(gid or uid), entrypoint, cmd, copies, from_build, dirs)


# --- what one container is ----------------------------------------------------------------------

@dataclass
class Volume:
    path: str            # mountPath in the container
    source: Path         # a directory on the host holding its content
    read_only: bool


@dataclass
class Container:
    argv: list[str]
    env: dict[str, str]
    workdir: str
    uid: int
    gid: int
    groups: list[int] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    read_only_root: bool = False


def image_container(image: Image, *, env: dict[str, str] | None = None,
                    volumes: list[Volume] | None = None) -> Container:
    """`docker run IMAGE` with `--env-file` and `-v` as given."""
    return Container(argv=image.entrypoint + image.cmd, env={**image.env, **(env or {})},
                     workdir=image.workdir, uid=image.uid, gid=image.gid, volumes=volumes or [])


def k8s_container(image: Image, docs: list[dict[str, Any]], scratch: Path) -> Container:
    """The Deployment's container as the kubelet would run it from ``docs`` (a rendered kustomize
    output): env (literals, then envFrom ConfigMaps and Secrets underneath them), volumes,
    security context, command/args over the image's ENTRYPOINT/CMD."""
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    env = dict(image.env)
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_name[("ConfigMap", source["configMapRef"]["name"])].get("data", {}))
        if "secretRef" in source:
            secret = by_name[("Secret", source["secretRef"]["name"])]
            env.update(secret.get("stringData", {}))
    for item in c.get("env", []):
        assert "value" in item, f"env {item['name']}: only literal values are reproduced"
        env[item["name"]] = str(item["value"])
    sec = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
    uid = int(sec.get("runAsUser", image.uid))
    gid = int(sec.get("runAsGroup", image.gid))
    fs_group = sec.get("fsGroup")
    volumes: list[Volume] = []
    specs = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in c.get("volumeMounts", []):
        spec = specs[mount["name"]]
        src = scratch / "volumes" / mount["name"]
        src.mkdir(parents=True)
        if "configMap" in spec:
            data = by_name[("ConfigMap", spec["configMap"]["name"])]["data"]
            items = spec["configMap"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                target = src / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[item["key"]], encoding="utf-8")
                target.chmod(0o644)
        elif "emptyDir" in spec:
            if fs_group is not None:
                os.chown(src, 0, int(fs_group))
            src.chmod(0o2777 if fs_group is None else 0o2775)
        else:
            raise AssertionError(f"volume {mount['name']}: kind not reproduced: {sorted(spec)}")
        volumes.append(Volume(mount["mountPath"], src, bool(mount.get("readOnly", False))))
    argv = (c.get("command") or image.entrypoint) + (c.get("args") if "args" in c or "command" in c
                                                      else image.cmd)
    return Container(argv=argv, env=env, workdir=c.get("workingDir", image.workdir), uid=uid,
                     gid=gid, groups=[int(fs_group)] if fs_group is not None else [],
                     volumes=volumes, read_only_root=bool(sec.get("readOnlyRootFilesystem")))


# --- the root and the start ---------------------------------------------------------------------

def _layer(image: Image, scratch: Path) -> Path:
    """The image's COPY'd content as root-owned, world-readable files (an image layer)."""
    layer = scratch / "layer"
    for sources, dest in image.copies:
        for src in sources:
            path = ROOT / src
            target = layer / dest.lstrip("/")
            if len(sources) > 1 or dest.endswith("/"):
                target = target / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, target)
    for dirpath, dirnames, filenames in os.walk(layer):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return layer


def start(image: Image, container: Container, scratch: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``container`` from ``image``; returns the bridge process (its PID is the bridge's)."""
    layer = _layer(image, scratch)
    venv = Path(sys.prefix)
    mnt = scratch / "mnt"
    mnt.mkdir()
    q = shlex.quote
    lines = [
        "set -eu",
        f"M={q(str(mnt))}",
        'mount -t tmpfs -o mode=0755 pod "$M"',
        'mkdir "$M/upper" "$M/work" "$M/root"',
        'mount -t overlay overlay -o lowerdir=/,upperdir="$M/upper",workdir="$M/work" "$M/root"',
        'R="$M/root"',
        'mount --rbind /dev "$R/dev"',
        'mount --rbind /proc "$R/proc"',
    ]
    # the pod's own /tmp (its volume, else an empty tmpfs as in an image), before anything below
    # it (a checkout in /tmp, as under CI) is bound back in
    tmp_volume = next((v for v in container.volumes if v.path == "/tmp"), None)
    if tmp_volume is not None:
        lines.append(f'mount --bind {q(str(tmp_volume.source))} "$R/tmp"')
    else:
        lines.append('mount -t tmpfs -o mode=1777 tmp "$R/tmp"')

    def bind(src: Path | str, dest: str, read_only: bool) -> None:
        lines.append(f'mkdir -p "$R"{q(dest)}')
        lines.append(f'mount --bind {q(str(src))} "$R"{q(dest)}')
        if read_only:
            lines.append(f'mount -o remount,ro,bind "$R"{q(dest)}')

    # the interpreter the virtualenv links to must be reachable by the unprivileged user (it
    # lives in the image's /usr/local there; here perhaps under /root): open its folders in the
    # overlay only
    real = Path(os.path.realpath(sys.executable))
    for parent in reversed(real.parents):
        if str(parent) != "/":
            lines.append(f'chmod o+x "$R"{q(str(parent))}')
    bind(ROOT, str(ROOT), True)                       # the package (editable install) itself
    for dest in image.from_build:                     # COPY --from=build /opt/bridge /opt/bridge
        bind(venv, dest, True)
    for dest in {d for _, d in image.copies}:
        lines.append(f'mkdir -p "$R"{q(str(Path(dest).parent))}')
    lines.append(f'cp -a {q(str(layer))}/. "$R/"')    # the layer's files into the overlay
    for path, uid, gid, mode in image.dirs:
        lines.append(f'install -d -o {uid} -g {gid} -m {mode:o} "$R"{q(path)}')
    for vol in container.volumes:
        if vol.path != "/tmp":
            bind(vol.source, vol.path, vol.read_only)
    if container.read_only_root:
        lines.append('mount -o remount,ro "$R"')
    groups = ",".join(str(g) for g in container.groups) or str(container.gid)
    env_args = " ".join(q(f"{k}={v}") for k, v in container.env.items())
    lines.append(
        f'exec chroot "$R" /usr/bin/setpriv --reuid {container.uid} --regid {container.gid} '
        f'--groups {groups} --inh-caps=-all --bounding-set=-all -- '
        f'/usr/bin/env -i -C {q(container.workdir)} {env_args} '
        + " ".join(q(a) for a in container.argv))
    script = scratch / "start.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = log.open("wb")
    try:
        return subprocess.Popen(["unshare", "-m", "--propagation", "private", "bash", str(script)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        out.close()
