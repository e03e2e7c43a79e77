"""The result cache's look-up: what a dir's test key is computed over, the key, the hit.

`survey` reads once per run what every key is computed over (the repo's files and units,
the digest cache, helpers' own code); `key_of` gathers what a dir's run sees (its files
and its units', the env, the settings) and computes its key for the exact image it would
run (`cache_key`); `probe` looks the key up here, then in the registry (`cache_store`).
A dir is never cached when its result can depend on what the key cannot see: the engine
socket (`sibling_docker`), a mount from outside the repo or of ignored files (and tests
on the host: `--no-docker` never asks). `cache_results` serves hits and records passes.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import hashlib
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import helpers
from helpers import events
from helpers.effects import digestcache, engine
from helpers.errors import UserError
from helpers.model import envfile, project, testlists, units, workspace
from helpers.ops.images import image_cache
from helpers.ops.run import containers
from helpers.ops.testing import cache_key, cache_store


@dataclass
class Survey:
    """What every dir's key in one run is computed over, read once (mutable: the digest
    cache learns, the file list is read again after the run)."""

    root: Path
    ws: units.Workspace
    files: tuple[str, ...]  # tracked and untracked-not-ignored, sorted
    index: cache_key.FileIndex
    digests: digestcache.DigestCache
    helpers: str
    store: cache_store.LocalStore
    shared: cache_store.SharedStore
    lookup: bool = True  # False: --no-cache (run everything, still record)
    prefix: str = field(init=False)  # the root and a separator: paths joined by hand
    machine_secret: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.prefix = f"{self.root}{os.sep}"  # os.path.join costs 3 us a file
        self.machine_secret = self.store.secret()  # read (or made) once, not per dir

    def digest(self, rel: str) -> Optional[str]:
        """A file's content digest (one stat when unchanged); None for a dir (a submodule's
        gitlink: helpers' own code is in `helpers`)."""
        try:
            return self.digests.digest(self.prefix + rel)
        except IsADirectoryError:
            return None
        except FileNotFoundError:
            return "deleted"
        except OSError as err:
            return f"unreadable ({err.errno})"


def _listed(root: Path) -> tuple[str, ...]:
    bytecode = (".pyc", ".pyo")
    return tuple(f for f in workspace.list_files(root) if not f.endswith(bytecode))


def helpers_fingerprint(cache: digestcache.DigestCache) -> str:
    """helpers' version and a digest of its code (the plugin and whatever builds the run)."""
    here = Path(helpers.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(here.rglob("*.py")):
        digest.update(f"{path.relative_to(here)}\0{cache.digest(path)}\n".encode())
    return f"{helpers.__version__} code {digest.hexdigest()[:16]}"


def survey(root: Path, lookup: bool = True) -> Survey:
    ws = units.load(root)
    files = _listed(root)
    cache = digestcache.for_repo(root)
    store = cache_store.LocalStore(cache_store.cache_home())
    shared = cache_store.SharedStore()
    index = cache_key.FileIndex.build(ws, files)
    return Survey(root, ws, files, index, cache, helpers_fingerprint(cache), store, shared, lookup)


def survey_or_none(root: Path, lookup: bool = True) -> Optional[Survey]:
    """The run's survey; None when the repo cannot be read as units (each dir then says
    why when it is prepared)."""
    try:
        return survey(root, lookup)
    except UserError:
        return None


def relisted(s: Survey) -> Survey:
    """The survey with the files listed again: a run may have written some."""
    files = _listed(s.root)
    return dataclasses.replace(s, files=files, index=cache_key.FileIndex.build(s.ws, files))


# ---------------------------------------------------------------- a dir's key


def _under(files: Sequence[str], prefix: str) -> list[str]:
    start = bisect.bisect_left(files, prefix + "/")
    out = [prefix] if prefix in files else []
    for path in files[start:]:
        if not path.startswith(prefix + "/"):
            break
        out.append(path)
    return out


def _mounted_files(s: Survey, target: project.Target) -> Union[list[str], str]:
    """Files of the repo the dir's extra mounts show the tests; a str: why it cannot be cached."""
    out: list[str] = []
    for spec in target.cfg.mounts:
        host, _ = containers.mount_source(spec, target.root)
        rel = workspace.relative(s.root, host.resolve())  # missing: made empty at the start
        if rel.startswith(".."):
            return f"mount {spec} is outside the repo: its content is not in the key"
        found = _under(s.files, rel) if rel != "." else list(s.files)
        if not found and host.is_dir() and any(host.iterdir()):
            return f"mount {spec} holds only files git ignores: their content is not in the key"
        out += found
    return out


def _env(s: Survey, target: project.Target, lists: Sequence[str]) -> list[cache_key.Input]:
    cfg = target.cfg
    secret: list[tuple[str, str]] = []
    loaded = envfile.load(target.root, cfg)
    for name, value in loaded.entries if loaded else ():
        shown = f"{loaded.display if loaded else '.env'} {name}"
        secret.append((shown, value if value is not None else os.environ.get(name, "\0unset")))
    for name in cfg.env_passthrough:
        secret.append((f"env_passthrough {name}", os.environ.get(name, "\0unset")))
    plain = {f"container_env {k}": v for k, v in cfg.container_env.items()}
    with contextlib.suppress(UserError):  # helpers outside the repo: the plan says so
        plain.update({f"run {k}": v for k, v in containers.container_env(target).items()})
    plain["run PYTHONPATH"] = containers.python_path(target)
    plain["run HELPERS_TEST_TIMEOUTS"] = testlists.timeouts_env(lists, cfg.test_timeouts)
    return cache_key.env_inputs(secret, plain, s.machine_secret)


def _settings(s: Survey, target: project.Target) -> dict[str, str]:
    cfg = target.cfg
    out = {
        "base image name": cfg.base_image,
        "mounts": "\n".join(cfg.mounts),
        "ports": "\n".join(cfg.ports),
        "network": cfg.network or "",
    }
    out.update({f"build arg {k}": v for k, v in cfg.build_args.items()})
    # A service's config (its image by name, env, command, ...); a dockerfile service's
    # files are the dir's own, keyed with them. A moving tag of an `image:` service is not
    # seen: pin it by digest where that matters.
    out.update({f"service {n}": svc.fingerprint() for n, svc in sorted(cfg.services.items())})
    if cfg.extra_ca_certs:  # by content: their paths differ from machine to machine
        found = []
        for rel in cfg.extra_ca_certs:
            try:
                found.append(s.digests.digest(target.root / rel))
            except OSError:
                found.append("missing")
        out["extra CA certificates"] = "\n".join(found)
    return out


def key_of(
    s: Survey,
    target: project.Target,
    image: engine.ImageInfo,
    lists: Sequence[str],
    pytest_opts: str,
) -> Union[cache_key.TestKey, str]:
    """The dir's test key for a run in `image`; a str: why its result cannot be cached."""
    if target.cfg.sibling_docker:
        return "sibling_docker: the tests reach the engine, which the key cannot see"
    mounted = _mounted_files(s, target)
    if isinstance(mounted, str):
        return mounted
    run = cache_key.RunInputs(
        rel_dir=target.rel_dir,
        image=image,
        lists=tuple(lists),
        pytest_opts=pytest_opts,
        env=tuple(_env(s, target, lists)),
        settings=_settings(s, target),
        helpers=s.helpers,
        platform=f"{sys.platform}/{platform.machine()}",
    )
    own = sorted({*s.index.files_for(s.ws, target.rel_dir), *mounted})
    return cache_key.compute(run, own, s.index.global_files, s.digest)


# ---------------------------------------------------------------- look-ups


@dataclass(frozen=True)
class Probe:
    target: project.Target
    image: engine.ImageInfo
    key: Optional[cache_key.TestKey]  # None: not cached (why says why)
    entry: Optional[cache_store.Entry] = None  # the hit
    why: str = ""  # why it missed (when explained) or cannot be cached
    seconds: float = 0.0  # the look-up's own time
    lists: tuple[str, ...] = ()
    pytest_opts: str = ""


def last_name(target: project.Target) -> str:
    return f"{target.cfg.image_name}\0{target.rel_dir}"


def shared_repo(target: project.Target) -> Optional[str]:
    """The registry repository of the dir's shared results (test_cache: shared), if any."""
    if target.cfg.test_cache != "shared":
        return None
    return image_cache.repository(target.cfg)


_said: set[str] = set()  # warnings given once per process


def shared_for(target: project.Target) -> Optional[str]:
    """`shared_repo`, saying once when shared results were asked for with no registry."""
    repo = shared_repo(target)
    if repo is None and target.cfg.test_cache == "shared" and "no registry" not in _said:
        _said.add("no registry")
        events.warning(
            "test_cache: shared, but no registry is configured (`cache_registry`, `registry` "
            "or $HELPERS_CACHE_REGISTRY): using the local cache only"
        )
    return repo


def probe(
    s: Survey,
    target: project.Target,
    image: engine.ImageInfo,
    lists: Sequence[str],
    pytest_opts: str,
    explain: bool = False,
) -> Probe:
    """The dir's key for `image` and, unless --no-cache, its recorded result."""
    begin = time.monotonic()
    asked = (tuple(lists), pytest_opts)
    if target.cfg.test_cache == "off":
        return Probe(target, image, None, None, "test_cache: off", 0.0, *asked)
    key = key_of(s, target, image, lists, pytest_opts)
    if isinstance(key, str):
        return Probe(target, image, None, None, f"not cached: {key}", 0.0, *asked)
    entry = s.store.get(key.key) if s.lookup else None
    repo = shared_for(target) if s.lookup and entry is None else None
    if repo is not None:
        entry = s.shared.get(repo, key.key)
        if entry is not None:
            s.store.put(entry)  # the next run here needs no registry
    took = time.monotonic() - begin
    if entry is not None:
        return Probe(target, image, key, entry, "", took, *asked)
    why = "--no-cache" if not s.lookup else ""
    if explain and s.lookup:
        why = cache_key.explain(s.store.last_inputs(last_name(target)), key)
    return Probe(target, image, key, None, why, took, *asked)
