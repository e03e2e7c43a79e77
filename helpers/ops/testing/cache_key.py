"""The test key of one dir's run: every input that can change its result, by name; pure.

A dir's recorded passing run is reused only when its key is equal. The key covers:

  - helpers itself (its version and a digest of its code) and the platform;
  - the test lists and the pytest options;
  - the environment the container gets: the env file's and passed-through values
    (stretched together into one digest: no value, nor a plain hash of one, is kept),
    `container_env` and the run's own variables, and the settings of the run (mounts,
    network, ports, CA files, base image name, build args);
  - the global inputs (the root repo_config.yaml, tasks.py, ...: `global_inputs`);
  - the content of every file of the dir and of every unit its result depends on
    (its packages, their in-repo dependencies, transitively; `depends_on` paths),
    tracked or untracked-but-not-ignored, by content digest;
  - the exact image: its id (which commits to every layer and label), its inputs hash
    and its recorded install inputs.

Each input is named, so a miss can say which input differs first, in the order above
("infra/src/x.py changed", "image rebuilt", "pytest options differ"). Names for
explanations only (one per env variable, keyed with a per-machine secret) never
enter the key, so keys agree across machines. Everything here computes over the data
handed to it: the file list and workspace read once per run, a digest function (the
stat-keyed digest cache), the chosen image's labels.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from helpers.effects import engine
from helpers.model import graph, images, units, workspace
from helpers.ops.images import freshness, install_inputs

FORMAT = "helpers-test-key/1"
# The order in which a miss names the first differing input.
ORDER = ("helpers", "platform", "lists", "pytest", "env", "setting", "global", "file", "image")
KDF_ROUNDS = 20_000
SHOWN = 24  # characters of each value kept for explanations
# Files pytest reads from the dirs above the one it runs in (rootdir and conftest search).
PYTEST_FILES = (
    "conftest.py",
    "pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
    "__init__.py",
)
KDF_SALT = b"helpers-test-cache-env/1"


@dataclass(frozen=True)
class Input:
    category: str  # one of ORDER
    name: str
    value: str
    in_key: bool = True  # False: for explanations only (per-variable env digests)

    @property
    def label(self) -> str:
        return f"{self.category}\t{self.name}"


# Files are many (thousands in a big dir): kept as plain (category, path, digest) tuples.
FileInput = tuple[str, str, str]


@dataclass(frozen=True)
class TestKey:
    inputs: tuple[Input, ...]
    key: str
    files: tuple[FileInput, ...] = ()  # global and file inputs, each category path-sorted

    def explained(self) -> dict[str, str]:
        """Every input by label, its value shortened: what a later miss is compared with
        (kept per dir; the key itself is over the full values)."""
        out = {i.label: i.value[:SHOWN] for i in self.inputs}
        out.update({f"{c}\t{path}": value[:SHOWN] for c, path, value in self.files})
        return out


def make(inputs: Iterable[Input], files: Sequence[FileInput] = ()) -> TestKey:
    """The key over the named inputs (in name order) and the files (in the order given:
    sorted by category, then path)."""
    kept = tuple(inputs)
    named = sorted((i for i in kept if i.in_key), key=lambda i: (i.category, i.name))
    text = "".join(f"{i.category}\0{i.name}\0{i.value}\n" for i in named)
    text += "".join(f"{c}\0{path}\0{value}\n" for c, path, value in files)
    return TestKey(kept, hashlib.sha256(f"{FORMAT}\n{text}".encode()).hexdigest(), tuple(files))


# ---------------------------------------------------------------- which files count


def reach(ws: units.Workspace, rel_dir: str) -> set[str]:
    """The units whose change can change the dir's result: the dir, the packages it holds,
    what they depend on, transitively (the reverse of what `changes` calls affected)."""
    holds: dict[str, list[str]] = {}
    for package, holder in ws.within.items():
        holds.setdefault(holder, []).append(package)
    edges = {u: (*ws.deps.get(u, ()), *holds.get(u, ())) for u in ws.units}
    return graph.closure(edges, [rel_dir] if rel_dir in ws.units else [])


def _global_matcher(rule: units.GlobalRule) -> Callable[[str], bool]:
    """`GlobalRule.matches` as one regex (a per-pattern fnmatch per file is too slow here)."""
    parts = []
    for pattern in rule.patterns:
        parts.append(fnmatch.translate(pattern))
        parts.append(re.escape(pattern.rstrip("/")) + r"/.*\Z")
    combined = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None
    return (lambda path: combined.match(path) is not None) if combined else (lambda _: False)


@dataclass(frozen=True)
class FileIndex:
    """The repo's files sorted once per run: by their innermost unit and the global ones.
    A file outside every unit that is no global input reaches no key, as it affects
    nothing in `changes` (docs, a README, a dir not adopted yet)."""

    by_unit: Mapping[str, tuple[str, ...]]
    global_files: tuple[str, ...]
    watched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # unit -> files
    pytest_files: frozenset[str] = frozenset()  # every file named like one of PYTEST_FILES

    @classmethod
    def build(cls, ws: units.Workspace, files: Sequence[str]) -> FileIndex:
        is_global = _global_matcher(ws.globals)
        by_unit: dict[str, list[str]] = {}
        watched: dict[str, list[str]] = {}
        global_files: list[str] = []
        for path in sorted(files):
            if not units.counts(path, ws.ignore_dirs):
                continue
            if is_global(path):
                global_files.append(path)
                continue
            owner = ws.owner(path)
            watchers = [u for prefix, u in ws.watches if workspace.is_under(path, prefix)]
            for unit in watchers:
                watched.setdefault(unit, []).append(path)
            if owner is not None:
                by_unit.setdefault(owner, []).append(path)
        named = frozenset(f for f in files if f.rsplit("/", 1)[-1] in PYTEST_FILES)
        return cls(
            {u: tuple(f) for u, f in by_unit.items()},
            tuple(global_files),
            {u: tuple(f) for u, f in watched.items()},
            named,
        )

    def files_for(self, ws: units.Workspace, rel_dir: str) -> tuple[str, ...]:
        """The files a run of `rel_dir` can see: those of every unit in its `reach`, the
        paths they watch, and pytest's own files in the dirs above it (pytest reads them
        from there: `conftest.py`, its ini files, the `__init__.py` that name packages)."""
        found: set[str] = set()
        for unit in reach(ws, rel_dir):
            found.update(self.by_unit.get(unit, ()))
            found.update(self.watched.get(unit, ()))
        found.update(self._above(rel_dir))
        return tuple(sorted(found))

    def _above(self, rel_dir: str) -> list[str]:
        if rel_dir == ".":
            return []
        parts = rel_dir.split("/")
        wanted = {
            "/".join([*parts[:depth], name]) for depth in range(len(parts)) for name in PYTEST_FILES
        }
        return sorted(wanted & self.pytest_files)


# ---------------------------------------------------------------- the environment


@functools.lru_cache(maxsize=32)
def _stretched(text: str) -> str:
    """A slow digest of values that may be secret: the key names no guessable hash of one."""
    return hashlib.pbkdf2_hmac("sha256", text.encode(), KDF_SALT, KDF_ROUNDS).hex()


def env_inputs(
    secret: Sequence[tuple[str, str]],
    plain: Mapping[str, str],
    machine_secret: bytes,
) -> list[Input]:
    """`secret`: (name as shown, value) of the env file's and passed-through variables:
    in the key as one stretched digest, per name only keyed with this machine's secret
    (explanations, kept locally). `plain`: non-secret variables (container_env, the
    run's own), digested one by one."""
    out = [Input("env", name, _sha(f"{name}={value}")) for name, value in sorted(plain.items())]
    if secret:
        ordered = sorted(secret)
        for name, value in ordered:
            mac = hmac.new(machine_secret, f"{name}={value}".encode(), hashlib.sha256)
            out.append(Input("env", name, mac.hexdigest()[:32], in_key=False))
        joined = "\n".join(f"{name}={value}" for name, value in ordered)
        out.append(Input("env", ENV_SUMMARY, _stretched(joined)))
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- the key


@dataclass(frozen=True)
class RunInputs:
    """What a dir's run sees besides its files, already read and digested by the caller."""

    rel_dir: str
    image: engine.ImageInfo
    lists: tuple[str, ...]
    pytest_opts: str
    env: tuple[Input, ...]  # from `env_inputs`
    settings: Mapping[str, str]  # run settings by name, values as config gives them
    helpers: str  # helpers' version and code digest
    platform: str


def image_inputs(image: engine.ImageInfo, rel_dir: str) -> list[Input]:
    """The image: its recorded install inputs by name (which one changed: "base image"),
    then its inputs hash and its id (anything else: "image rebuilt")."""
    out = []
    recorded = install_inputs.decode(image.labels.get(install_inputs.LABEL)) or {}
    for name in sorted(recorded):
        shown = freshness.shown_names([name], rel_dir)[0]
        out.append(Input("image", f"input {shown}", recorded[name]))
    out.append(Input("image", "inputs hash", image.labels.get(images.LABEL_INPUTS, "")))
    out.append(Input("image", "id", image.id))
    return out


def compute(
    run: RunInputs, files: Sequence[str], global_files: Sequence[str], digest: FileDigest
) -> TestKey:
    """The key of a run over `files` (the dir's and its units', repo paths) and
    `global_files`; `digest` gives a file's content digest (None: not a regular file)."""
    inputs = [
        Input("helpers", "version", run.helpers),
        Input("platform", "platform", f"{run.platform} image:{run.image.architecture}"),
        Input("lists", "test list", ",".join(run.lists)),
        Input("pytest", "options", _sha(run.pytest_opts)),
        Input("setting", "dir", run.rel_dir),
        *run.env,
        *(Input("setting", name, _sha(value)) for name, value in sorted(run.settings.items())),
    ]
    digested: list[FileInput] = []
    for category, paths in (("file", files), ("global", global_files)):
        for path in sorted(paths):
            value = digest(path)
            if value is not None:
                digested.append((category, path, value))
    inputs += image_inputs(run.image, run.rel_dir)
    return make(inputs, digested)


FileDigest = Callable[[str], Optional[str]]


# ---------------------------------------------------------------- why a key missed

NEVER = "never run here"
ENV_SUMMARY = "values"  # the stretched digest of the secret-bearing env values
_SUMMARIES = {f"env\t{ENV_SUMMARY}", "image\tinputs hash", "image\tid"}
_PHRASES = {
    "helpers": "helpers changed ({old} -> {new})",
    "platform": "platform differs ({old} -> {new})",
    "lists": "test list differs ({old} -> {new})",
    "pytest": "pytest options differ",
}


def _phrase(category: str, name: str, old: Optional[str], new: Optional[str], more: int) -> str:
    if category in _PHRASES:
        return _PHRASES[category].format(old=old, new=new)
    if category == "image":
        return (
            f"{name[len('input '):]} changed (image rebuilt)"
            if name.startswith("input ")
            else "image rebuilt"
        )
    if category == "env" and name == ENV_SUMMARY:
        return "an env file or passed-through value changed"
    verb = "added" if old is None else "removed" if new is None else "changed"
    where = " (global input)" if category == "global" else ""
    return f"{name} {verb}{where}" + (f" (and {more} more)" if more else "")


def _rank(label: str) -> tuple[bool, str]:
    """Named inputs before the summaries (the env digest, the image's hash and id): say what
    changed ("base image changed"), not only that something did ("image rebuilt")."""
    return (label in _SUMMARIES, label)


def explain(old: Optional[Mapping[str, str]], new: TestKey) -> str:
    """The first input, in ORDER, that differs from the last recorded passing run's."""
    if old is None:
        return NEVER
    now = new.explained()
    for category in ORDER:
        labels = {label for label in (*old, *now) if label.split("\t", 1)[0] == category}
        differ = [n for n in sorted(labels, key=_rank) if old.get(n) != now.get(n)]
        if not differ:
            continue
        present = [n for n in differ if n in now]  # a change or an addition, before removals
        pick = present[0] if present and category in ("global", "file") else differ[0]
        more = len(differ) - 1 if category in ("global", "file") else 0
        name = pick.split("\t", 1)[1]
        return _phrase(category, name, old.get(pick), now.get(pick), more)
    return "no recorded result for these inputs (its entry was removed)"
