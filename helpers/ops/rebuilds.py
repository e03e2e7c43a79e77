"""Images to rebuild by what they hold: a local image whose inputs hash is not what a
build of this work tree would produce (an edit not built yet, or a revert after one).

Changed-file analysis alone misses the revert case: the files match the base again,
yet the image was built from the edit. One `docker image inspect` asks for every
dir's image at once; only dirs whose image exists are hashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import config, images, project


def stale_local(
    root: Path, dirs: Sequence[str], runner: commands.Runner = commands.run
) -> tuple[str, ...]:
    """Dirs whose local image exists and was built from other inputs; () with no engine."""
    user = images.user_name()
    targets = [project.Target(root, d, config.load(root, d)) for d in dirs]
    refs = {t.rel_dir: images.ref(t.cfg, "local", t.version, user) for t in targets}
    try:
        found = engine.inspect_images(list(refs.values()), runner)
    except UserError:
        return ()  # no engine: nothing to compare with
    have = [t for t in targets if found[refs[t.rel_dir]] is not None]
    if not have:
        return ()  # no local image to compare: the build machinery is not even imported
    from helpers.ops import build

    return tuple(t.rel_dir for t in have if not build.prepare(t, runner=runner).up_to_date)
