"""`services:` of repo_config.yaml: the containers a dir's tests need beside it; pure.

    services:
      db:
        dockerfile: devops/db.Dockerfile   # or  image: postgres:16
        env: {POSTGRES_PASSWORD: test}
        command: postgres -c fsync=off     # a string (split like a shell) or a list
        healthcheck: pg_isready -h 127.0.0.1   # run inside the service until it succeeds
        start_timeout: 60                  # seconds to get healthy
        tmpfs: [/var/lib/postgresql/tmp]
        volumes: [data/fixtures:/fixtures:ro]

A name is the host name the tests reach the service by, so it is a DNS label. A
`dockerfile` is relative to the dir whose repo_config.yaml declares the service (the
repo root for the repo-wide file), which is also its build context. Checked when the
config loads: every error names file:line of the offending key.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from helpers.errors import UserError

DEFAULT_START_TIMEOUT = 60.0
FIELDS = (
    "image",
    "dockerfile",
    "env",
    "command",
    "healthcheck",
    "start_timeout",
    "tmpfs",
    "volumes",
)
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Service:
    name: str
    image: Optional[str] = None
    dockerfile: Optional[str] = None  # relative to `context_dir`
    context_dir: str = "."  # the repo dir whose repo_config.yaml declares it
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] = ()  # argv run inside the service; () = running is healthy
    start_timeout: float = DEFAULT_START_TIMEOUT
    tmpfs: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    where: str = field(default="", compare=False)  # file:line of its declaration

    def fingerprint(self) -> str:
        """A digest of everything that decides the running service (not where it is written)."""
        data = {
            "name": self.name,
            "image": self.image,
            "dockerfile": self.dockerfile,
            "context": self.context_dir,
            "env": dict(sorted(self.env.items())),
            "command": list(self.command),
            "healthcheck": list(self.healthcheck),
            "timeout": self.start_timeout,
            "tmpfs": list(self.tmpfs),
            "volumes": list(self.volumes),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def names(services: Mapping[str, Service]) -> str:
    """`db,cache`: the value of HELPERS_SERVICES, in declaration order."""
    return ",".join(services)


def _fail(where: str, key: str, expected: str, value: Any) -> UserError:
    return UserError(f"{where}: '{key}' must be {expected}, got {value!r}; fix the value")


def _line_of(value: Any, key: str, where: str) -> str:
    """`file:line` of `key` inside the mapping `value` (config keeps YAML key lines)."""
    lines = getattr(value, "lines", {})
    display = where.rsplit(":", 1)[0]
    return f"{display}:{lines[key]}" if key in lines else where


def _argv(value: Any, where: str, key: str) -> tuple[str, ...]:
    """A command: a string split like a shell, or a list of words."""
    if isinstance(value, str) and value.strip():
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise UserError(f"{where}: '{key}' {value!r}: {exc}; fix the quoting") from None
    if isinstance(value, list) and value and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    raise _fail(where, key, "a command: a string or a list of words", value)


def _health(value: Any, where: str, key: str) -> tuple[str, ...]:
    """A string runs in the service's shell (`sh -c`), a list as it is."""
    if isinstance(value, str) and value.strip():
        return ("sh", "-c", value.strip())
    return _argv(value, where, key)


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, key, "a list of strings", value)
    return tuple(value)


def _tmpfs(value: Any, where: str, key: str) -> tuple[str, ...]:
    items = _strings(value, where, key)
    for item in items:
        if not item.startswith("/"):
            raise _fail(where, key, "absolute paths like /var/lib/data[:size=64m]", item)
    return items


def _volumes(value: Any, where: str, key: str) -> tuple[str, ...]:
    items = _strings(value, where, key)
    for item in items:
        parts = item.split(":")
        mode_ok = len(parts) == 2 or (len(parts) == 3 and parts[2] in ("ro", "rw"))
        if not (mode_ok and parts[0] and parts[1].startswith("/")):
            raise _fail(where, key, "HOST:CONTAINER[:ro] like 'data:/data:ro'", item)
    return items


def _env(value: Any, where: str, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise _fail(where, key, "a mapping of NAME: value", value)
    return {k: "" if v is None else str(v) for k, v in value.items()}


def _timeout(value: Any, where: str, key: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok:
        raise _fail(where, key, "a positive number of seconds", value)
    return float(value)


def _dockerfile(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, "a Dockerfile path relative to the dir", value)
    clean = posixpath.normpath(value.strip())
    if clean.startswith(("/", "../")) or clean in ("..", "."):
        raise _fail(where, key, "a file path inside the dir, relative to it", value)
    return clean


def _image(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or " " in value.strip():
        raise _fail(where, key, "an image reference like postgres:16", value)
    return value.strip()


_CHECKS = {
    "image": _image,
    "dockerfile": _dockerfile,
    "env": _env,
    "command": _argv,
    "healthcheck": _health,
    "start_timeout": _timeout,
    "tmpfs": _tmpfs,
    "volumes": _volumes,
}


def context_of(where: str) -> str:
    """The dir a config file at `where` (`infra/repo_config.yaml:3`) belongs to."""
    return posixpath.dirname(where.rsplit(":", 1)[0]) or "."


def _one(name: str, spec: Any, where: str) -> Service:
    if not _NAME.match(name):
        raise UserError(
            f"{where}: service name {name!r} is not a host name; use lowercase letters, "
            "digits and '-' (it is the host the tests connect to)"
        )
    if not isinstance(spec, dict):
        raise _fail(where, f"services.{name}", "a mapping with image or dockerfile", spec)
    values: dict[str, Any] = {}
    for key, value in spec.items():
        at = _line_of(spec, str(key), where)
        if key not in _CHECKS:
            import difflib

            close = difflib.get_close_matches(str(key), FIELDS, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"valid: {', '.join(FIELDS)}"
            raise UserError(f"{at}: unknown key '{key}' in service {name!r}; {hint}")
        values[key] = _CHECKS[key](value, at, f"services.{name}.{key}")
    if ("image" in values) == ("dockerfile" in values):
        raise UserError(
            f"{where}: service {name!r} needs exactly one of 'image' (e.g. postgres:16) "
            "or 'dockerfile' (built like the dir's image)"
        )
    return Service(name=name, context_dir=context_of(where), where=where, **values)


def parse(value: Any, where: str, key: str) -> dict[str, Service]:
    """The `services` key: name -> Service, in the order written."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(where, key, "a mapping of service name: {image or dockerfile, ...}", value)
    return {name: _one(name, spec, _line_of(value, name, where)) for name, spec in value.items()}
