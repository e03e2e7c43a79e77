"""Where recorded passing runs live: this machine's cache dir, and the registry.

Local (`test_cache: local`, the default): `${HELPERS_CACHE_HOME:-~/.cache/helpers}/
test-results/`, one file per entry under `entries/<k[:2]>/<key>.json`, content-addressed
by the test key and never rewritten; `last/` keeps, per dir, the inputs of its last
recorded passing run (what `-v` compares a miss with; per-variable env digests are
keyed with `secret`, this machine's own random key). A hit touches its entry, so
`cache_prune --days N` removes what no run used for N days.

Shared (`test_cache: shared`): the same entries also as OCI artifacts in the dir's
repository of the cache registry (tag `tests-<key>`, artifact type RESULT_TYPE), read
after a local miss and written after a passing run. A registry that does not answer
(down, no login, no push right) is said once, in one warning line, and the run goes
on with the local cache only.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.effects import digestcache, fsutil, oci, registry_api
from helpers.errors import UserError
from helpers.model import junit
from helpers.ops.images import image_cache

FORMAT = "helpers-test-result/1"
RESULT_TYPE = "application/vnd.helpers.test-result.v1+json"
TAG_PREFIX = "tests-"
SHARED_TIMEOUT = 5.0
HOME_ENV = digestcache.HOME_ENV
cache_home = digestcache.cache_home


@dataclass(frozen=True)
class Entry:
    """A recorded passing run of one dir: its counts and its JUnit XML, as it ran."""

    key: str
    dir: str
    image: str
    run_id: str
    created: str
    counts: junit.Counts
    seconds: float
    junit: str

    def to_json(self) -> str:
        c = self.counts
        data = {
            "format": FORMAT,
            "key": self.key,
            "dir": self.dir,
            "image": self.image,
            "run_id": self.run_id,
            "created": self.created,
            "counts": {
                "passed": c.passed,
                "failed": c.failed,
                "skipped": c.skipped,
                "errors": c.errors,
            },
            "seconds": round(self.seconds, 3),
            "junit": self.junit,
        }
        return json.dumps(data, sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str, key: str) -> Optional[Entry]:
        """The entry, or None when it is malformed or not the entry of `key`."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            counts = junit.Counts(**{k: int(v) for k, v in data["counts"].items()})
            return cls(
                key,
                str(data["dir"]),
                str(data["image"]),
                str(data["run_id"]),
                str(data["created"]),
                counts,
                float(data["seconds"]),
                str(data["junit"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalStore:
    """This machine's entries; every write atomic, an existing entry never replaced."""

    def __init__(self, home: Path) -> None:
        self.root = home / "test-results"

    def _entry(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[Entry]:
        path = self._entry(key)
        try:
            entry = Entry.parse(path.read_text(encoding="utf-8"), key)
        except OSError:
            return None
        if entry is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # used now: prune keeps it
        return entry

    def put(self, entry: Entry) -> None:
        path = self._entry(entry.key)
        if path.is_file():
            return  # content-addressed: the same key is the same entry
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.write_atomic(path, entry.to_json())

    def _last(self, name: str) -> Path:
        return self.root / "last" / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.json"

    def last_inputs(self, name: str) -> Optional[dict[str, str]]:
        """The inputs of the last recorded passing run of `name` (image name and dir)."""
        try:
            data = json.loads(self._last(name).read_text(encoding="utf-8"))
            inputs = data["inputs"]
            return {str(k): str(v) for k, v in inputs.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def set_last_inputs(self, name: str, key: str, inputs: Mapping[str, str]) -> None:
        path = self._last(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"name": name, "key": key, "inputs": dict(inputs)}
        fsutil.write_atomic(path, json.dumps(data, separators=(",", ":")))

    def secret(self) -> bytes:
        """This machine's key for per-variable env digests (0600; made on first use)."""
        path = self.root / "secret"
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return bytes.fromhex(value)

    def prune(self, days: float, now: Optional[float] = None) -> tuple[int, int]:
        """Remove entries (and last-run records) unused for `days`: (files removed, bytes)."""
        limit = (time.time() if now is None else now) - days * 86400
        removed = size = 0
        for sub in ("entries", "last"):
            for path in sorted((self.root / sub).rglob("*.json")):
                try:
                    st = path.stat()
                    if st.st_mtime < limit:
                        path.unlink()
                        removed, size = removed + 1, size + st.st_size
                except OSError:
                    continue
        return removed, size


class SharedStore:
    """Entries as OCI artifacts in the registry; a registry that fails is off for the rest
    of the process, said once (`image_cache.failed`: one line for both caches)."""

    def __init__(self, timeout: float = SHARED_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[str, registry_api.Client] = {}

    def _client(self, host: str) -> registry_api.Client:
        with self._lock:
            if host not in self._clients:
                self._clients[host] = registry_api.Client(host, timeout=self.timeout)
            return self._clients[host]

    @staticmethod
    def _where(repository: str) -> tuple[str, str]:
        name = registry_api.parse(f"{repository}:x")
        return name.host, name.repo

    def get(self, repository: str, key: str) -> Optional[Entry]:
        if image_cache.is_down(repository):
            return None
        host, _ = self._where(repository)
        try:
            found = oci.pull_artifact(f"{repository}:{TAG_PREFIX}{key}", self._client(host))
        except (UserError, OSError, ValueError) as err:
            image_cache.failed(repository, err)
            return None
        if found is None or found.artifact_type != RESULT_TYPE or not found.layers:
            return None
        return Entry.parse(found.layers[0].data.decode("utf-8", "replace"), key)

    def put(self, repository: str, entry: Entry) -> bool:
        if image_cache.is_down(repository):
            return False
        host, _ = self._where(repository)
        client = self._client(host)
        ref = f"{repository}:{TAG_PREFIX}{entry.key}"
        try:
            if oci.get_manifest(ref, client) is not None:
                return True  # immutable: the first writer's entry stays
            layer = oci.Layer(RESULT_TYPE, entry.to_json().encode())
            notes = {"org.opencontainers.image.created": entry.created, "io.helpers.dir": entry.dir}
            oci.push_artifact(ref, RESULT_TYPE, [layer], notes, client)
            return True
        except (UserError, OSError, ValueError) as err:
            image_cache.failed(repository, err)
            return False
