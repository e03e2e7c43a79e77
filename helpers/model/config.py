"""repo_config.yaml: repo-wide settings plus a per-dir override, loaded into frozen data.

Precedence, lowest first (a task's flag, e.g. `--build-arg BASE_IMAGE=...`, beats all):
  1. defaults (every key is optional)
  2. machine defaults: HELPERS_BASE_IMAGE, HELPERS_REGISTRY, HELPERS_EXTRA_CA_CERTS in
     ${XDG_CONFIG_HOME:-~/.config}/helpers/machine.env (what bootstrap.sh records; the
     file $HELPERS_MACHINE_ENV names instead, when set); a machine default never
     overrides a value a config file states (its CA certificates are added to them)
  3. <repo root>/repo_config.yaml (repo-wide)
  4. <runnable dir>/repo_config.yaml (that dir only; mappings are merged key by key)
  5. what the user exported: the same variables in the environment (empty = unset;
     HELPERS_EXTRA_CA_CERTS holds paths separated by os.pathsep)
`image_name` and `depends_on` describe one dir, so the repo-wide file's values
apply to the root runnable dir only.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from helpers.effects import digestcache
from helpers.errors import UserError

if TYPE_CHECKING:
    from helpers.model.services import Service

FILENAME = "repo_config.yaml"
TEST_LISTS = ("fast", "slow", "superslow")
DEFAULT_BASE_IMAGE = "python:3.11-slim"
ENV_OVERRIDES = {"base_image": "HELPERS_BASE_IMAGE", "registry": "HELPERS_REGISTRY"}
CA_ENV = "HELPERS_EXTRA_CA_CERTS"
MACHINE_ENV_VAR = "HELPERS_MACHINE_ENV"
PER_DIR_ONLY = frozenset({"image_name", "depends_on", "dockerfile", "prod_dockerfile"})
DEFAULT_DOCKERFILE = "devops/Dockerfile"
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


@dataclass(frozen=True)
class Config:
    """Settings for one runnable dir. `origin` says where each non-default value came from."""

    image_name: str
    registry: Optional[str] = None
    registries: tuple[str, ...] = ()  # every registry a release pushes to; registry is the first
    base_image: str = DEFAULT_BASE_IMAGE
    build_args: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    env_file: str = ".env"
    depends_on: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    env_passthrough: tuple[str, ...] = ()
    container_env: Mapping[str, str] = field(default_factory=dict)
    sibling_docker: bool = False
    network: Optional[str] = None
    warm_containers: bool = True
    extra_ca_certs: tuple[str, ...] = ()
    test_timeouts: Mapping[str, int] = field(
        default_factory=lambda: {"fast": 60, "slow": 600, "superslow": 3600}
    )
    global_inputs: tuple[str, ...] = ()
    ignore_dirs: tuple[str, ...] = ()
    library_pins: Mapping[str, str] = field(default_factory=dict)  # check_libs (repo-wide)
    boundaries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # check_boundaries
    dockerfile: str = DEFAULT_DOCKERFILE  # relative to the runnable dir
    prod_dockerfile: Optional[str] = None  # None: the same as `dockerfile`
    sync_exclude: tuple[str, ...] = ()  # client files sync_files leaves alone
    keep_entrypoint: bool = False  # run/exec commands start with the image's ENTRYPOINT off
    python_paths: tuple[str, ...] = ()  # more import roots in containers (repo-relative)
    signing_key: Optional[str] = None  # signed releases: the private key file
    verify_key: Optional[str] = None  # signed releases: the public key (default <signing_key>.pub)
    require_signed: bool = False  # signed releases: docker_pull and prod promotion verify first
    services: Mapping[str, Service] = field(default_factory=dict)  # name -> what tests need
    reruns: int = 0  # retries of a failing test inside one pytest run (flaky tests)
    quarantine: tuple[str, ...] = ()  # node ids that run but never fail the run
    test_cache: str = "local"  # local | shared | off (see CACHE_MODES)
    image_cache: str = "local"  # local | shared
    cache_registry: Optional[str] = None  # where shared caches live; None: `registry`
    origin: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- validation


def _fail(where: str, key: str, expected: str, value: Any) -> UserError:
    return UserError(f"{where}: '{key}' must be {expected}, got {value!r}; fix the value")


def _str(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, "a non-empty string", value)
    return value.strip()


def _opt_str(value: Any, where: str, key: str) -> Optional[str]:
    return None if value in (None, "") else _str(value, where, key)


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, key, "a list of strings", value)
    return tuple(value)


def _str_map(value: Any, where: str, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(where, key, "a mapping of NAME: value", value)
    return {k: "" if v is None else str(v) for k, v in value.items()}


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, key, "true or false", value)
    return value


def _repo_paths(value: Any, where: str, key: str) -> tuple[str, ...]:
    """Repo-relative dirs, cleaned: `./x/` and `x` are the same dir."""
    out = []
    for item in _str_list(value, where, key):
        clean = posixpath.normpath(item.strip())
        if clean.startswith(("/", "../")) or clean == "..":
            raise _fail(where, key, "paths inside the repo, relative to its root", item)
        out.append(clean)
    return tuple(out)


def _dir_path(value: Any, where: str, key: str) -> str:
    """A file inside the runnable dir, relative to it (`Dockerfile`, `devops/dev.Dockerfile`)."""
    clean = posixpath.normpath(_str(value, where, key))
    if clean.startswith(("/", "../")) or clean in ("..", "."):
        raise _fail(where, key, "a file path inside the dir, relative to it", value)
    return clean


def _timeouts(value: Any, where: str, key: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(where, key, "a mapping like {fast: 60, slow: 600}", value)
    out: dict[str, int] = {}
    for name, seconds in value.items():
        if name not in TEST_LISTS:
            raise UserError(
                f"{where}: '{key}' has unknown test list {name!r}; use {', '.join(TEST_LISTS)}"
            )
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise _fail(where, f"{key}.{name}", "a positive number of seconds", seconds)
        out[name] = seconds
    return out


def _image_name(value: Any, where: str, key: str) -> str:
    name = _str(value, where, key)
    if not _IMAGE_NAME.match(name):
        raise _fail(where, key, "a lowercase image name like 'acme-infra'", value)
    return name


def _registry(value: Any, where: str, key: str) -> Optional[str]:
    """A registry as docker names it: host[:port][/path], no scheme."""
    text = _opt_str(value, where, key)
    if text and ("://" in text or text.startswith("/") or " " in text):
        bare = text.split("://", 1)[-1].strip("/")
        raise UserError(
            f"{where}: '{key}' {text!r} is not a registry name like ghcr.io/acme or "
            f"localhost:5000; write it without the scheme: {bare!r}"
        )
    return text.rstrip("/") if text else text


def _platforms(value: Any, where: str, key: str) -> tuple[str, ...]:
    from helpers.model import images

    items = _str_list(value, where, key)
    return images.parse_platforms(",".join(items), where=f"{where}: '{key}'")


def _port_ok(text: str, allow_empty: bool = False) -> bool:
    if not text:
        return allow_empty
    low, _, high = text.partition("-")
    numbers = [low, high] if high else [low]
    return all(n.isdigit() and 0 < int(n) < 65536 for n in numbers)


def _port_spec_ok(spec: str) -> bool:
    """docker's `--publish`: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], ports or ranges."""
    spec, _, proto = spec.partition("/")
    if proto not in ("", "tcp", "udp", "sctp"):
        return False
    if spec.startswith("["):  # [IPv6]:HOST:CONTAINER
        ip, _, spec = spec[1:].partition("]:")
        if not ip or spec.count(":") != 1:
            return False
        spec = f"ip:{spec}"
    parts = spec.split(":")
    if len(parts) == 3:
        return bool(parts[0]) and _port_ok(parts[1], allow_empty=True) and _port_ok(parts[2])
    return len(parts) <= 2 and all(_port_ok(p) for p in parts)


def _ports(value: Any, where: str, key: str) -> tuple[str, ...]:
    items = _str_list(value, where, key)
    for item in items:
        if not _port_spec_ok(item):
            raise _fail(where, key, "ports like '8080:80' or '127.0.0.1:8080:80/tcp'", item)
    return items


def _mounts(value: Any, where: str, key: str) -> tuple[str, ...]:
    """`HOST:CONTAINER[:ro|rw]`, checked where it is written (not first at `docker run`)."""
    items = _str_list(value, where, key)
    for item in items:
        parts = item.split(":")
        mode_ok = len(parts) == 2 or (len(parts) == 3 and parts[2] in ("ro", "rw"))
        if not (mode_ok and parts[0] and parts[1].startswith("/")):
            raise _fail(where, key, "mounts like 'data:/data' or '/srv/cache:/cache:ro'", item)
    return items


def _library_pins(value: Any, where: str, key: str) -> dict[str, str]:
    """`{library: PEP 440 specifier}`, names PEP 503-normalized (check_libs)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    example = "a mapping of library: specifier like {requests: '>=2.31,<3'}"
    if not isinstance(value, dict):
        raise _fail(where, key, example, value)
    out = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not re.match(
            r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$", name
        ):
            raise _fail(where, key, f"{example} (a library name as key)", name)
        text = "" if spec is None else str(spec).strip()
        try:
            SpecifierSet(text)
        except InvalidSpecifier:
            raise UserError(
                f"{where}: '{key}.{name}' = {spec!r} is not a PEP 440 specifier; "
                "write one like '>=2.31,<3' or '==2.31.0' (quoted)"
            ) from None
        out[re.sub(r"[-_.]+", "-", name).lower()] = text
    return out


def _boundaries(value: Any, where: str, key: str) -> dict[str, tuple[str, ...]]:
    """`{public_modules: [api]}` (check_boundaries); a unit's own file may override it."""
    if not isinstance(value, dict) or set(value) - {"public_modules"}:
        raise _fail(where, key, "a mapping like {public_modules: [api]}", value)
    mods = _str_list(value.get("public_modules", []), where, f"{key}.public_modules")
    for mod in mods:
        if not all(part.isidentifier() for part in mod.split(".")):
            raise _fail(where, f"{key}.public_modules", "module names like api or api.v1", mod)
    return {"public_modules": mods}


def _services(value: Any, where: str, key: str) -> dict[str, Service]:
    from helpers.model import services  # only a config that names services needs it

    return services.parse(value, where, key)


def _reruns(value: Any, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
        raise _fail(where, key, "a number of retries from 0 to 10", value)
    return value


def _node_ids(value: Any, where: str, key: str) -> tuple[str, ...]:
    """Test node ids relative to the runnable dir (`tests/test_x.py::test_y`)."""
    items = _str_list(value, where, key)
    for item in items:
        if "::" not in item or item.startswith("/"):
            raise _fail(where, key, "test ids like tests/test_x.py::test_y", item)
    return items


# ---------------------------------------------------------------- the caches (issue 18)

CACHE_MODES = {"test_cache": ("local", "shared", "off"), "image_cache": ("local", "shared")}
CACHE_ENV = {
    "test_cache": "HELPERS_TEST_CACHE",
    "image_cache": "HELPERS_IMAGE_CACHE",
    "cache_registry": "HELPERS_CACHE_REGISTRY",
}


def _cache_mode(value: Any, where: str, key: str) -> str:
    choices = CACHE_MODES[key]
    if value is False and "off" in choices:
        value = "off"  # YAML reads a bare `off` as false
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in choices:
        raise _fail(where, key, " or ".join(choices), value)
    return str(text)


def _cache_registry(value: Any, where: str, key: str) -> Optional[str]:
    """Like `registry`, lower-cased: `ghcr.io/${{ github.repository_owner }}` may hold capitals,
    which docker refuses in a repository name."""
    text = _registry(value, where, key)
    return text.lower() if text else text


def _cache_overrides(
    values: dict[str, Any], origin: dict[str, str], env: Mapping[str, str]
) -> None:
    """$HELPERS_TEST_CACHE, $HELPERS_IMAGE_CACHE, $HELPERS_CACHE_REGISTRY win over both files
    (CI sets them for every job)."""
    for key, var in CACHE_ENV.items():
        if env.get(var):
            check = _cache_registry if key == "cache_registry" else _cache_mode
            values[key], origin[key] = check(env[var], f"${var}", key), f"${var}"


_KEYS: dict[str, Callable[[Any, str, str], Any]] = {
    "image_name": _image_name,
    "registry": _registry,
    "registries": lambda v, w, k: tuple(_registry(i, w, k) or "" for i in _str_list(v, w, k)),
    "base_image": _str,
    "build_args": _str_map,
    "platforms": _platforms,
    "env_file": _str,
    "depends_on": _repo_paths,
    "mounts": _mounts,
    "ports": _ports,
    "env_passthrough": _str_list,
    "container_env": _str_map,
    "sibling_docker": _bool,
    "network": _opt_str,
    "warm_containers": _bool,
    "extra_ca_certs": _str_list,
    "test_timeouts": _timeouts,
    "global_inputs": _str_list,
    "ignore_dirs": _repo_paths,
    "library_pins": _library_pins,
    "boundaries": _boundaries,
    "dockerfile": _dir_path,
    "prod_dockerfile": _dir_path,
    "sync_exclude": _repo_paths,
    "keep_entrypoint": _bool,
    "python_paths": _repo_paths,
    "signing_key": _opt_str,
    "verify_key": _opt_str,
    "require_signed": _bool,
    "services": _services,
    "reruns": _reruns,
    "quarantine": _node_ids,
    "test_cache": _cache_mode,
    "image_cache": _cache_mode,
    "cache_registry": _cache_registry,
}
VALID_KEYS = tuple(_KEYS)


def _unknown_key(where: str, key: str) -> UserError:
    close = difflib.get_close_matches(key, VALID_KEYS, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(VALID_KEYS)}"
    return UserError(f"{where}: unknown key '{key}'; {hint}")


# ---------------------------------------------------------------- reading files


_READ_ONCE: dict[str, tuple[list[int], dict[str, tuple[Any, int]]]] = {}


def _read_yaml(path: Path, display: str) -> dict[str, tuple[Any, int]]:
    """Top-level keys of a YAML mapping with their 1-based line numbers; a file is read
    and parsed once per process while its stat holds (a task asks for a dir's config,
    its Dockerfile key and its `depends_on`: one read)."""
    try:
        st = path.stat()
    except OSError:
        st = None
    known = _READ_ONCE.get(str(path)) if st is not None else None
    if st is not None and known is not None and known[0] == digestcache.stamp(st):
        return dict(known[1])
    found = _parse_yaml(path, display)
    if st is not None and digestcache.settled(st):
        _READ_ONCE[str(path)] = (digestcache.stamp(st), found)
    return dict(found)


def _parse_yaml(path: Path, display: str) -> dict[str, tuple[Any, int]]:
    import yaml  # lazy: only repos that have a config file pay for it

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{display}: cannot read it as UTF-8 text ({exc}); fix the file") from None
    try:
        node = yaml.compose(text, Loader=loader_cls)
        data = yaml.load(text, Loader=loader_cls)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{display}{line}: {problem}; fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or node is None:
        raise UserError(f"{display}:1: expected a mapping of settings (key: value)")
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    nodes = {str(k.value): v for k, v in node.value}
    return {str(k): (_lined(v, nodes.get(str(k))), lines.get(str(k), 1)) for k, v in data.items()}


class Lined(dict):  # type: ignore[type-arg]
    """A mapping read from YAML that knows the line of each of its keys (`lines`), so a
    nested key's error can name its own line."""

    lines: dict[str, int]


def _lined(value: Any, node: Any) -> Any:
    """`value` with each nested mapping a `Lined` one (`node`: its YAML node)."""
    import yaml

    if not isinstance(value, dict) or not isinstance(node, yaml.MappingNode):
        return value
    out = Lined(value)
    out.lines = {}
    for knode, vnode in node.value:
        name = str(knode.value)
        out.lines[name] = knode.start_mark.line + 1
        if name in out:
            out[name] = _lined(out[name], vnode)
    return out


def _validated(path: Path, display: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (value, line) in _read_yaml(path, display).items():
        where = f"{display}:{line}"
        if key not in _KEYS:
            raise _unknown_key(where, key)
        out[key] = _KEYS[key](value, where, key)
    return out


def _sanitize(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("._-")
    return re.sub(r"[._-]{2,}", "-", cleaned) or "app"


def default_image_name(repo_name: str, rel_dir: str, root_image: Optional[str] = None) -> str:
    """Root dir: the repo's name; nested dir: '<root image>-<path-with-dashes>'."""
    base = root_image or _sanitize(repo_name)
    if rel_dir in ("", "."):
        return base
    return f"{base}-{_sanitize(rel_dir.replace('/', '-'))}"


def machine_env_path(env: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The machine's settings file (bootstrap.sh writes it); None: $HELPERS_MACHINE_ENV=''."""
    env = os.environ if env is None else env
    if MACHINE_ENV_VAR in env:
        return Path(env[MACHINE_ENV_VAR]).expanduser() if env[MACHINE_ENV_VAR] else None
    home = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / "helpers" / "machine.env"


def machine_defaults(env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The HELPERS_* settings machine.env records (non-empty ones), read as dotenv text."""
    path = machine_env_path(env)
    if path is None or not path.is_file():
        return {}
    cache = digestcache.for_machine(env)  # by its stat: read and parsed when it changes
    values: dict[str, str] = cache.parsed(path, "machine-env", _machine_values)
    cache.save()
    return values


def _machine_values(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values  # lazy: read only when the file changed

    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc}); fix or remove the file") from None
    wanted = (*ENV_OVERRIDES.values(), CA_ENV)
    return {k: v.strip() for k, v in values.items() if k in wanted and v and v.strip()}


def _env_layer(
    values: dict[str, Any], origin: dict[str, str], env: Mapping[str, str], label: str
) -> None:
    """One layer of HELPERS_* settings over `values` (empty = unset)."""
    for key, var in ENV_OVERRIDES.items():
        if (env.get(var) or "").strip():
            check = _registry if key == "registry" else _opt_str
            values[key], origin[key] = check(env[var], f"${var}", key), label.format(var=var)
    if (env.get(CA_ENV) or "").strip():
        values["extra_ca_certs"] = tuple(p for p in env[CA_ENV].split(os.pathsep) if p)
        origin["extra_ca_certs"] = label.format(var=CA_ENV)


def _machine_layer(values: dict[str, Any], origin: dict[str, str]) -> None:
    """Precedence 2: machine defaults fill in only what no config file states."""
    path = machine_env_path()
    machine = machine_defaults()
    if not machine:
        return
    layer: dict[str, Any] = {}
    where: dict[str, str] = {}
    _env_layer(layer, where, machine, f"machine default ${{var}} in {path}")
    stated = set(values) | ({"registry"} if values.get("registries") else set())
    for key, value in layer.items():
        if key == "extra_ca_certs" and values.get(key):
            values[key] = tuple(dict.fromkeys((*values[key], *value)))  # added, not replaced
            origin[key] = f"{origin[key]} + {where[key]}"
        elif key not in stated:
            values[key], origin[key] = value, where[key]


def _exported_layer(values: dict[str, Any], origin: dict[str, str], env: Mapping[str, str]) -> None:
    """Precedence 5: what the user exported wins over every file."""
    _env_layer(values, origin, env, "${var} (exported)")


def _resolve_registries(values: dict[str, Any], origin: dict[str, str]) -> None:
    """`registries` is the list form of `registry`: the first one is the registry tasks use.

    $HELPERS_REGISTRY (a machine override) replaces both.
    """
    many = values.get("registries") or ()
    if origin.get("registry", "").startswith("$"):  # exported: it replaces both
        values["registries"] = (values["registry"],) if values.get("registry") else ()
        return
    if many and values.get("registry") and values["registry"] not in many:
        where = origin.get("registries", FILENAME)
        raise UserError(
            f"{where}: 'registry' {values['registry']!r} is not in 'registries' "
            f"{list(many)}; set one of them (registries: the first is the main registry)"
        )
    if many:
        values["registries"] = tuple(r.rstrip("/") for r in many)
        values["registry"] = values.get("registry") or many[0]
    elif values.get("registry"):
        values["registries"] = (values["registry"],)


def load(root: Path, rel_dir: str = ".", env: Optional[Mapping[str, str]] = None) -> Config:
    """Config for the runnable dir `rel_dir` (relative to the repo root `root`)."""
    env = os.environ if env is None else env
    is_root = rel_dir in ("", ".")
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    repo_file = root / FILENAME
    repo_values = _validated(repo_file, FILENAME) if repo_file.is_file() else {}
    for key, value in repo_values.items():
        if is_root or key not in PER_DIR_ONLY:
            values[key], origin[key] = value, FILENAME
    if not is_root:
        dir_file = root / rel_dir / FILENAME
        display = f"{rel_dir}/{FILENAME}"
        if dir_file.is_file():
            for key, value in _validated(dir_file, display).items():
                merge = isinstance(value, dict) and isinstance(values.get(key), dict)
                values[key] = {**values[key], **value} if merge else value
                origin[key] = display
    _machine_layer(values, origin)
    _exported_layer(values, origin, env)
    _cache_overrides(values, origin, env)
    _resolve_registries(values, origin)
    if values.get("base_image") is None:
        values.pop("base_image", None)
    if "image_name" not in values:
        root_image = repo_values.get("image_name")
        values["image_name"] = default_image_name(root.name, rel_dir, root_image)
    timeouts = {**Config(image_name="x").test_timeouts, **values.get("test_timeouts", {})}
    values["test_timeouts"] = timeouts
    return Config(**values, origin=origin)


def dir_dockerfile(dir_path: Path, display: str) -> str:
    """The Dockerfile a dir's own repo_config.yaml names, else the default (cheap: one file)."""
    path = dir_path / FILENAME
    if not path.is_file():
        return DEFAULT_DOCKERFILE
    try:
        raw = _read_yaml(path, display)
    except UserError:
        return DEFAULT_DOCKERFILE  # config.load reports a broken file, where the task runs
    if "dockerfile" not in raw:
        return DEFAULT_DOCKERFILE  # other keys are checked by config.load, not here
    value, line = raw["dockerfile"]
    return _dir_path(value, f"{display}:{line}", "dockerfile")
