"""Is a local image fresh? Its recorded install inputs against the work tree's.

`stale` compares the `io.helpers.install-inputs` label of a local image with the
install inputs a build of the work tree would record, computed only, from the dir's
`source.Source` (one definition for both: `install_inputs` over the very source a build
reads: the Dockerfile the `dockerfile` key names, the same context); `check` reads the
source, then asks `stale`. `stale_local` finds, for `changes`,
the dirs whose local image was built from other inputs than the work tree's (an edit
not built yet, or a revert after one) by comparing inputs hashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from helpers import tables
from helpers.effects import commands, digestcache, engine
from helpers.errors import UserError
from helpers.model import images, project, units
from helpers.ops.images import build_context, depunits, install_inputs, source

SHOWN = 3


def changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Inputs added, removed or changed; build args only the image has are not counted."""
    names = sorted(set(old) | set(new), key=lambda n: (n != install_inputs.BASE, n))
    out = []
    for name in names:
        if name.startswith(install_inputs.ARG) and name not in new:
            continue  # a one-off --build-arg
        if old.get(name) != new.get(name):
            out.append(name)
    return out


def stale(
    target: project.Target, image: engine.ImageInfo, src: source.Source, base_id: str
) -> list[str]:
    """The install inputs of the dir that changed since `image` was built (empty: fresh),
    computed from the dir's source (`source.read`) and the id of its base; reads nothing."""
    recorded = install_inputs.decode(image.labels.get(install_inputs.LABEL))
    if recorded is None:
        return ["its install inputs (not recorded: built by an older helpers)"]
    args = source.build_args(target)
    now = install_inputs.install_inputs(
        src.context, args, base_id, src.dockerfile_text, src.digests
    )
    return shown_names(changed(recorded, now), target.rel_dir)


def read_source(target: project.Target, ws: units.Workspace) -> source.Source:
    """What the stale check reads: the dir's source with the install inputs' digests."""
    cache = digestcache.for_repo(target.root)
    src = source.read(target, ws, cache, every_file=False)
    cache.save()
    return src


def check(
    target: project.Target,
    image: engine.ImageInfo,
    runner: commands.Runner = commands.run,
    ws: Optional[units.Workspace] = None,
) -> list[str]:
    """Read the dir's source (`ws`: the workspace the command read), then `stale`."""
    src = read_source(target, ws or source.workspace_of(target, runner))
    return stale(
        target, image, src, base_id(source.base_of(src, source.build_args(target)), runner)
    )


_BASE_IDS: dict[str, str] = {}  # per process: main_pytest checks many dirs on one base


def base_id(name: str, runner: commands.Runner) -> str:
    """The base image's id (its name when absent here), asked once per process."""
    if name not in _BASE_IDS:
        base = engine.inspect_image(name, runner)
        _BASE_IDS[name] = base.id if base else name
    return _BASE_IDS[name]


def shown_names(names: Sequence[str], rel_dir: str) -> list[str]:
    """Input names as a user reads them: repo paths, dependency units' files first."""
    units_dir = depunits.UNITS_DIR + "/"
    out: list[tuple[int, str]] = []
    for name in names:
        if name == install_inputs.BASE or name.startswith(install_inputs.ARG):
            out.append((0, name))
        elif name.startswith(units_dir):
            rel = name[len(units_dir) :].removeprefix(depunits.ROOT_COPY + "/")
            out.append((1, f"{rel} (dependency unit)"))
        elif name.startswith(build_context.INJECTED_DIR + "/"):
            out.append((3, f"{name} (generated)"))
        else:
            out.append((2, name if rel_dir == "." else f"{rel_dir}/{name}"))
    return [text for _, text in sorted(out, key=lambda pair: pair[0])]


def describe(changes: Sequence[str]) -> str:
    return tables.listed(changes, SHOWN)


def stale_local(
    root: Path,
    dirs: Sequence[str],
    runner: commands.Runner = commands.run,
    ws: Optional[units.Workspace] = None,
) -> tuple[str, ...]:
    """Dirs whose local image exists and was built from other inputs; () with no engine.
    `ws`: the workspace the command read (else read here, once for all dirs)."""
    user = images.user_name()
    targets = [project.Target.load(root, d) for d in dirs]
    refs = {t.rel_dir: images.ref(t.cfg, "local", t.version, user) for t in targets}
    try:
        found = engine.inspect_images(list(refs.values()), runner)
    except UserError:
        return ()  # no engine: nothing to compare with
    have = [t for t in targets if found[refs[t.rel_dir]] is not None]
    if not have:
        return ()  # no local image to compare: the build machinery is not even imported
    from helpers.ops.images import build

    ws = ws or units.load(root, runner)
    return tuple(t.rel_dir for t in have if not build.prepare(t, runner=runner, ws=ws).up_to_date)
