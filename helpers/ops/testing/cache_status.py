"""`main_pytest.py --cache-status`: which selected dirs the result cache would serve, asked
without building, pulling or running anything (a CI plan job skips its test jobs when
every affected dir is served).

For each dir, the image a run would use: the local image when it is present and fresh
(or `--allow-stale`), else (`image_cache: shared`) the registry's image with the dir's
current inputs, described by the registry (its id is its config's digest) and not
pulled. Then its test key, looked up here and, with `test_cache: shared`, in the
registry. Exit 0 when every dir would be served, 1 when one would run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Union

from helpers.effects import commands, engine
from helpers.errors import EXIT_FAILED, EXIT_OK, UserError
from helpers.model import images, project
from helpers.ops.images import build, choice, freshness, image_cache
from helpers.ops.testing import cache_run
from helpers.ops.testing.selection import Selection
from helpers.outcome import Outcome


def _image(
    target: project.Target, stage: str, allow_stale: bool, runner: commands.Runner
) -> Union[engine.ImageInfo, str]:
    """The exact image a run would use, found without making it; a str: why there is none."""
    ref = choice.chosen_ref(target, stage, None, images.user_name())
    local = engine.inspect_image(ref, runner)
    if stage != "local":
        if local is not None:
            return local
        found = image_cache.remote(ref, image_cache.native_platform(runner)) if ref else None
        return found.image if found else f"{ref} is neither here nor in the registry"
    if local is not None and (allow_stale or not freshness.check(target, local, runner)):
        return local
    if not image_cache.shared(target.cfg):
        return "its image would be built here (image_cache: local)"
    plan = build.prepare(target, runner=runner)
    remote = image_cache.find(target, plan.inputs_hash, plan.platform, runner)
    if remote is None:
        return f"no image with its inputs ({plan.inputs_hash[:12]}) in the registry: it would build"
    return remote.image


def one_line(
    s: Optional[cache_run.Survey],
    target: project.Target,
    stage: str,
    lists: list[str],
    pytest_opts: str,
    allow_stale: bool,
) -> tuple[bool, str]:
    """(served, the dir's line)."""
    rel = target.rel_dir
    try:
        image = _image(target, stage, allow_stale, commands.run)
    except UserError as err:
        return False, f"{rel}: would run ({err.message})"
    if isinstance(image, str):
        return False, f"{rel}: would run ({image})"
    if s is None:
        return False, f"{rel}: would run (the repo's units cannot be read)"
    p = cache_run.probe(s, target, image, lists, pytest_opts, explain=True)
    if p.entry is None:
        return False, f"{rel}: would run ({p.why or 'no recorded result'})"
    return True, f"{rel}: cached ({p.entry.counts.describe()}; run {p.entry.run_id})"


def run(
    sel: Selection, stage: str, lists: list[str], pytest_opts: str, allow_stale: bool
) -> Outcome:
    s = cache_run.survey_or_none(sel.root)

    def each(rel: str) -> tuple[bool, str]:
        target = project.Target.load(sel.root, rel)
        return one_line(s, target, stage, lists, pytest_opts, allow_stale)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(each, sel.dirs))
    served = sum(1 for ok, _ in answers if ok)
    lines = [line for _, line in answers]
    lines.append(f"\n{served} of {len(answers)} dirs cached")
    return Outcome.of(lines, EXIT_OK if served == len(answers) else EXIT_FAILED)
