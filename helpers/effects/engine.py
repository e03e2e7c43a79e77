"""The container engine, reached through the docker CLI on the one process seam.

Capabilities are probed, never guessed from the host name: is an engine
reachable, is buildx present, can the engine socket be mounted into a container.
One read-only look-up, `docker image inspect`, is asked of the engine's local socket
directly when the CLI would talk to that very socket (no context, no remote host):
the engine's answer is the CLI's output, without starting the CLI (~15 ms a call).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from helpers.effects import commands
from helpers.errors import UserError

DOCKER = "docker"
DEFAULT_SOCKET = "/var/run/docker.sock"


class EngineDownError(UserError):
    """No engine answers: every dir would fail the same way, so a run stops at the first."""


@dataclass(frozen=True)
class EngineStatus:
    reachable: bool
    server_version: str
    where: str
    detail: str


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    id: str
    labels: Mapping[str, str]
    architecture: str


def first_line(err: str, none: str = "no reason given") -> str:
    """docker's reason: its first line that is not a warning (the last is often only
    "See 'docker run --help'.")."""
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    real = [x for x in lines if not x.upper().startswith(("WARNING", "DEPRECATED"))]
    return (real or lines or [none])[0]


def where(env: Optional[Mapping[str, str]] = None) -> str:
    """Where the CLI looks for the engine, for messages."""
    env = os.environ if env is None else env
    if env.get("DOCKER_HOST"):
        return f"DOCKER_HOST={env['DOCKER_HOST']}"
    if env.get("DOCKER_CONTEXT"):
        return f"DOCKER_CONTEXT={env['DOCKER_CONTEXT']}"
    return f"unix://{DEFAULT_SOCKET} (DOCKER_HOST unset)"


def status(runner: commands.Runner = commands.run) -> EngineStatus:
    result = runner((DOCKER, "version", "--format", "{{.Server.Version}}"))
    version = result.out.strip()
    reachable = result.ok and bool(version)
    detail = "" if reachable else (result.err.strip().splitlines() or ["no answer"])[-1]
    return EngineStatus(reachable, version, where(), detail)


def down_message(st: EngineStatus) -> str:
    return (
        f"no container engine answers at {st.where}: start it (Debian/Ubuntu as root: "
        "dev_scripts/engine/bootstrap.sh; elsewhere: start Docker) or set DOCKER_HOST "
        "to a running engine"
    )


def require(runner: commands.Runner = commands.run) -> EngineStatus:
    st = status(runner)
    if not st.reachable:
        raise EngineDownError(down_message(st))
    return st


def has_buildx(runner: commands.Runner = commands.run) -> bool:
    return runner((DOCKER, "buildx", "version")).ok


def socket_path(env: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The engine's unix socket on this host, when the CLI talks to a local one."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return None
    return Path(host[len("unix://") :] if host else DEFAULT_SOCKET)


def socket_mountable(env: Optional[Mapping[str, str]] = None) -> bool:
    """True when a local engine socket exists and can be bind-mounted into a container."""
    path = socket_path(env)
    try:
        return path is not None and stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def with_tag(ref: str) -> str:
    """`name` -> `name:latest`; refs with a tag or digest are returned as they are."""
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last or "@" in last else f"{ref}:latest"


def _all_missing(err: str, n_refs: int) -> bool:
    """The engine said "No such image" for every ref: it is up, the images are absent
    (saves a `docker version` call on the common path of nothing built yet)."""
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == n_refs and all("no such image" in line.lower() for line in lines)


IMAGE_INSPECT = (DOCKER, "image", "inspect", "--format", "{{json .}}")


def _cli_context(env: Mapping[str, str]) -> str:
    """The context the CLI's config selects ("" for the default one); "?" when the
    config cannot be read (the CLI then decides, and says what is wrong)."""
    home = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(home, "config.json"), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return ""
    except (OSError, ValueError):
        return "?"
    chosen = data.get("currentContext", "") if isinstance(data, dict) else "?"
    return "" if chosen in ("", "default") else str(chosen)


def local_socket(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The unix socket the CLI would talk to when nothing but DOCKER_HOST picks it
    (None with DOCKER_CONTEXT, a context in the CLI's config or a remote host)."""
    env = os.environ if env is None else env
    if env.get(commands.BLOCK_ENGINE_ENV) or env.get("DOCKER_CONTEXT") or _cli_context(env):
        return None
    path = socket_path(env)
    return None if path is None else str(path)


def _get(sock: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.0 GET on the engine's unix socket: (status, body). The stdlib's
    http.client would cost ~25 ms of imports; an HTTP/1.0 answer is the status line,
    headers, a blank line and the body up to the close."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(sock)
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _from_socket(
    refs: Sequence[str], runner: commands.Runner
) -> Optional[dict[str, Optional[str]]]:
    """Each ref's inspect JSON (None: no such image) from the local socket; None when the
    CLI must answer: an injected runner (it sees the CLI call), no plain local socket,
    or an answer other than found / not found."""
    sock = local_socket() if runner is commands.run else None
    if sock is None:
        return None
    from urllib.parse import quote

    found: dict[str, Optional[str]] = {}
    for ref in refs:
        try:
            code, body = _get(sock, f"/images/{quote(ref, safe='/:@')}/json")
        except (OSError, ValueError, IndexError):
            return None
        if code not in (200, 404):
            return None
        try:
            data = json.loads(body) if code == 200 else None
        except ValueError:
            return None
        # The engine resolves more than the CLI path below accepts (docker.io/library/…,
        # name@digest, a short id): the same image must be found the same way by both.
        found[ref] = body.decode().strip() if data is not None and _named(ref, data) else None
    return found


def _named(ref: str, data: Mapping[str, Any]) -> bool:
    """The inspected image is `ref`: one of its tags, or its full id."""
    return with_tag(ref) in set(data.get("RepoTags") or ()) or ref == data.get("Id")


def inspect_json(
    refs: Sequence[str], runner: commands.Runner = commands.run
) -> dict[str, Optional[str]]:
    """`docker image inspect --format {{json .}}` of each ref (None where absent); the
    socket answers when it can, else one CLI call for all refs."""
    refs = list(dict.fromkeys(refs))
    direct = _from_socket(refs, runner) if refs else {}
    if direct is not None:
        return direct
    result = runner((*IMAGE_INSPECT, *refs))
    found: dict[str, Optional[str]] = dict.fromkeys(refs)
    if not result.ok and not result.out.strip() and not _all_missing(result.err, len(refs)):
        st = status(runner)  # the engine answered nothing we understand: is it there?
        if not st.reachable:
            raise EngineDownError(down_message(st))
    for line in result.out.splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        for ref in refs:
            if found[ref] is None and _named(ref, data):
                found[ref] = line
    return found


def inspect_images(
    refs: Sequence[str], runner: commands.Runner = commands.run
) -> dict[str, Optional[ImageInfo]]:
    """Local images by reference; None where absent."""
    found: dict[str, Optional[ImageInfo]] = {}
    for ref, line in inspect_json(refs, runner).items():
        data = json.loads(line) if line else None
        found[ref] = None if data is None else _info(ref, data)
    return found


def _info(ref: str, data: Mapping[str, Any]) -> ImageInfo:
    labels = (data.get("Config") or {}).get("Labels") or {}
    return ImageInfo(ref, data["Id"], labels, data.get("Architecture", ""))


def inspect_image(ref: str, runner: commands.Runner = commands.run) -> Optional[ImageInfo]:
    return inspect_images([ref], runner)[ref]


def remove_labelled(
    label: str, value: str, runner: commands.Runner = commands.run, keep: str = ""
) -> int:
    """Force-remove every container (running or not) labelled `label=value` but `keep`;
    the one "list by label and remove" (a run's containers, a dir's warm ones). How many."""
    filt = f"label={label}={value}"
    listed = runner((DOCKER, "ps", "--all", "--filter", filt, "--format", "{{.Names}}"))
    names = [n for n in listed.out.split() if n != keep]
    if names:
        runner((DOCKER, "rm", "--force", "--volumes", *names))  # and their anonymous volumes
    return len(names)
