"""`sync_files [--check] [--force]`: the files a client takes from helpers, kept in sync.

tasks.py, invoke.yaml, the conftest hook and the CI workflow are rendered from
`<helpers>/templates/` (with the submodule's path filled in), and so are the devops
files `create_runnable_dir` writes into a dir (its Dockerfile and .dockerignore):
the record names them once written, so they follow helpers' templates too. A record at the
client root, `.helpers-sync.json`, says which helpers version wrote each file
and the hash of what it wrote, so a file the client did not touch is updated
on the next sync and one the client changed is never overwritten silently:
it is shown as a unified diff with the flag that replaces it (`--force`).
Files listed in `sync_exclude` (repo_config.yaml) are the client's own.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers import tables
from helpers.effects import commands, fsutil
from helpers.errors import UserError
from helpers.model import changelog, config, workspace
from helpers.outcome import Outcome

RECORD = workspace.SYNC_RECORD
PLACEHOLDER = "@HELPERS_DIR@"
GITIGNORE = ".gitignore"
GITIGNORE_LINE = ".helpers/"


# client path -> template file under <helpers>/templates/
TEMPLATES = (
    ("tasks.py", "tasks.py"),
    ("invoke.yaml", "invoke.yaml"),
    ("conftest.py", "conftest.py"),
    (".github/workflows/helpers.yml", "github-workflow.yml"),
)


# in a runnable dir: path in the dir -> template (recorded per dir by create_runnable_dir)
DIR_TEMPLATES = (
    ("devops/Dockerfile", "devops/Dockerfile"),
    (".dockerignore", "devops/dockerignore"),
)


MISSING, SAME, OUTDATED, DIFFERS, EXCLUDED = "missing", "same", "outdated", "differs", "excluded"


@dataclass(frozen=True)
class FileState:
    path: str  # relative to the client root
    status: str
    want: str
    have: Optional[str]

    def diff(self) -> str:
        old = (self.have or "").splitlines(keepends=True)
        new = self.want.splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path} (helpers)")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class Client:
    root: Path
    helpers_root: Path
    helpers_dir: str  # the submodule's path in the client, POSIX
    version: str  # helpers' version and commit, as recorded


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def helpers_root() -> Path:
    import helpers

    return Path(helpers.__file__).resolve().parents[1]


def locate(cwd: Path, runner: commands.Runner = commands.run) -> Client:
    """The client repo holding cwd and the helpers checkout inside it."""
    here = helpers_root()
    root = workspace.find_repo_root(cwd)
    if root == here:
        root = workspace.find_repo_root(here.parent)
    if here == root or root not in here.parents:
        raise UserError(
            f"helpers ({here}) is not inside the repo {root}: add it as a submodule "
            "(git submodule add <url> helpers_root) and run from the client repo"
        )
    head = runner(("git", "-C", str(here), "rev-parse", "--short=12", "HEAD"))
    commit = head.out.strip() if head.ok else "unknown"
    try:
        ver = str(changelog.load(here / changelog.FILENAME).version)
    except UserError:
        ver = "unknown"
    return Client(root, here, workspace.relative(root, here), f"{ver} ({commit})")


def render(client: Client, template: str) -> str:
    path = client.helpers_root / "templates" / template
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: template missing ({exc}); update the helpers submodule") from None
    return text.replace(PLACEHOLDER, client.helpers_dir)


def template_text(template: str) -> str:
    """A template as shipped (the dir templates have no placeholder)."""
    path = helpers_root() / "templates" / template
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: template missing ({exc}); update the helpers submodule") from None


def record_dir_files(root: Path, rel_dir: str, written: dict[str, str]) -> None:
    """Note the devops files just written into `rel_dir` from the templates, so that
    sync_files keeps them in step (when helpers is a submodule of this repo)."""
    try:
        client = locate(root)
    except UserError:
        return  # helpers lives elsewhere: nothing to sync against
    record = load_record(root)
    templates = dict(DIR_TEMPLATES)
    for name, text in written.items():
        dest = name if rel_dir == "." else f"{rel_dir}/{name}"
        record[dest] = {
            "helpers": client.version,
            "sha256": _sha(text),
            "template": templates[name],
        }
    _write_record(root, record)


def _write_record(root: Path, record: dict[str, dict[str, str]]) -> bool:
    text = json.dumps({"files": dict(sorted(record.items()))}, indent=2) + "\n"
    path = root / RECORD
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    fsutil.write_atomic(path, text)
    return True


def _dir_alive(root: Path, dest: str, template: str) -> bool:
    """A recorded dir file counts while its runnable dir still has its changelog (a removed
    dir takes its files along)."""
    name = dict((t, d) for d, t in DIR_TEMPLATES).get(template)
    if name is None or not dest.endswith(name):
        return False
    rel_dir = dest[: -len(name)].rstrip("/") or "."
    return (root / rel_dir / changelog.FILENAME).is_file()


def load_record(root: Path) -> dict[str, dict[str, str]]:
    path = root / RECORD
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
        return {str(k): dict(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(
            f"{path}: not a sync record helpers wrote; restore it from git or delete it "
            "(then sync_files treats every differing file as yours)"
        ) from None


def _gitignore(root: Path) -> FileState:
    path = root / GITIGNORE
    have = path.read_text(encoding="utf-8") if path.is_file() else None
    lines = (have or "").splitlines()
    if GITIGNORE_LINE in lines or GITIGNORE_LINE.rstrip("/") in lines:
        return FileState(GITIGNORE, SAME, have or "", have)
    want = (have or "") + ("" if not have or have.endswith("\n") else "\n") + GITIGNORE_LINE + "\n"
    # Only a line is added: never anybody's content replaced.
    return FileState(GITIGNORE, MISSING if have is None else OUTDATED, want, have)


def state_of(root: Path, dest: str, want: str, record: dict[str, dict[str, str]]) -> FileState:
    """One file against what helpers would write there."""
    path = root / dest
    have = path.read_text(encoding="utf-8") if path.is_file() else None
    if have is None:
        status = MISSING
    elif have == want:
        status = SAME
    elif record.get(dest, {}).get("sha256") == _sha(have):
        status = OUTDATED  # written by an older helpers and untouched since
    else:
        status = DIFFERS
    return FileState(dest, status, want, have)


def _recorded(client: Client, record: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """(dest, text helpers would write) of the recorded per-dir files still alive."""
    out = []
    for dest, entry in sorted(record.items()):
        template, rel_dir = entry.get("template", ""), entry.get("dir")
        if rel_dir is not None:  # rendered from the dir's config (devcontainer.json)
            if (client.root / rel_dir / changelog.FILENAME).is_file():
                from helpers.ops.adoption import devcontainer

                out.append((dest, devcontainer.render(client, rel_dir)))
        elif template and _dir_alive(client.root, dest, template):
            out.append((dest, render(client, template)))
    return out


def record_entries(root: Path, entries: dict[str, dict[str, str]]) -> None:
    """Add keys (what a file is rendered from) to recorded files' entries."""
    record = load_record(root)
    for dest, keys in entries.items():
        if dest in record:
            record[dest] = {**record[dest], **keys}
    _write_record(root, record)


def plan(client: Client, exclude: Sequence[str] = ()) -> list[FileState]:
    """The state of every synced file: nothing is written here."""
    record = load_record(client.root)
    out = []
    fixed = [(dest, render(client, template)) for dest, template in TEMPLATES]
    for dest, want in (*fixed, *_recorded(client, record)):
        if any(workspace.is_under(dest, e) for e in exclude if e != "."):
            out.append(FileState(dest, EXCLUDED, want, None))
            continue
        out.append(state_of(client.root, dest, want, record))
    if not any(workspace.is_under(GITIGNORE, e) for e in exclude if e != "."):
        out.append(_gitignore(client.root))
    return out


def _refuse_read_only(client: Client, states: Sequence[FileState], force: bool) -> None:
    """Before anything is written: a read-only file to replace is refused, as bump_version
    refuses a read-only changelog (nothing half-synced)."""
    for s in states:
        path = client.root / s.path
        replace = s.status == OUTDATED or (force and s.status == DIFFERS)
        if replace and path.is_file() and not fsutil.writable(path):
            raise UserError(
                f"{path}: the file is read-only, so sync_files will not replace it; make it "
                f"writable (chmod u+w {s.path}) and rerun, or list it in sync_exclude"
            )


def _drop_gone_dirs(root: Path, record: dict[str, dict[str, str]]) -> None:
    """Forget the devops files of runnable dirs that are gone (the record names no ghost)."""
    dir_templates = {t for _, t in DIR_TEMPLATES}
    for dest, entry in list(record.items()):
        template = entry.get("template", "")
        if template in dir_templates and not _dir_alive(root, dest, template):
            del record[dest]


def apply(client: Client, states: Sequence[FileState], force: bool = False) -> list[str]:
    """Write the missing and outdated files (and differing ones with `force`); update the record."""
    _refuse_read_only(client, states, force)
    record = load_record(client.root)
    _drop_gone_dirs(client.root, record)
    written = []
    for s in states:
        if s.status in (MISSING, OUTDATED) or (force and s.status == DIFFERS):
            path = client.root / s.path
            path.parent.mkdir(parents=True, exist_ok=True)
            fsutil.write_atomic(path, s.want)
            written.append(s.path)
        if s.path == GITIGNORE or s.status == EXCLUDED:
            continue
        if s.path in written or s.status == SAME:
            entry = {**record.get(s.path, {}), "helpers": client.version, "sha256": _sha(s.want)}
            if record.get(s.path, {}).get("sha256") != entry["sha256"]:
                record[s.path] = entry
    if _write_record(client.root, record):
        written.append(RECORD)
    return written


def exclude_of(root: Path) -> tuple[str, ...]:
    return config.load(root, ".").sync_exclude


def sync(cwd: Path, check: bool = False, force: bool = False, how: str = "") -> Outcome:
    """`sync_files`: exit 1 when drift is left (--check: any drift), with the diffs."""
    client = locate(cwd)
    states = plan(client, exclude_of(client.root))
    lines: list[str] = []
    drift = [s for s in states if s.status in (MISSING, OUTDATED, DIFFERS)]
    if check:
        for s in drift:
            lines.append(f"drift   {s.path} ({s.status})")
            lines.append(s.diff().rstrip("\n"))
        fix = how or "invoke sync_files"
        if drift:
            lines.append(
                f"{tables.count(len(drift), 'file')} differ from helpers {client.version}: "
                f"`{fix}` writes "
                f"missing and outdated ones, `{fix} --force` also replaces files you changed; "
                "list the files you own in sync_exclude"
            )
        else:
            lines.append(
                f"in sync: {tables.count(len(states), 'file')} "
                f"as helpers {client.version} renders them"
            )
        return Outcome.of(lines, 1 if drift else 0)
    written = apply(client, states, force)
    left = [s for s in states if s.status == DIFFERS and not force]
    for s in states:
        if s.path in written:
            lines.append(f"wrote   {s.path}")
        elif s.status == DIFFERS:
            lines.append(f"differs {s.path}: left alone; yours vs helpers':")
            lines.append(s.diff().rstrip("\n"))
        elif s.status in (SAME, EXCLUDED):
            lines.append(f"{'ok' if s.status == SAME else 'excluded':<7} {s.path}")
    if left:
        names = " ".join(s.path for s in left)
        lines.append(
            f"{tables.count(len(left), 'file')} differ ({names}): "
            f"`{how or 'invoke sync_files'} --force` replaces "
            "them with helpers' version; list them in sync_exclude to keep yours"
        )
    return Outcome.of(lines, 1 if left else 0)
