"""Promotion: local -> dev -> prod, multi-arch behind one tag, immutable versions, rollback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, DRY_RUN_HELP, task

PLATFORMS = "comma-separated, e.g. linux/amd64,linux/arm64 (default: config `platforms`)"
SKIP_TESTS = "release without running the tests (said in the output and in an image label)"
ALLOW_DIRTY = "release from uncommitted image inputs (the revision label ends in -dirty)"
TEST_LIST = "test lists run before the push (default: fast,slow)"
TEST_PLATFORMS = (
    "platforms whose images run the tests before the push: native (default), all, or a list; "
    "a foreign one runs under qemu, and each image's io.helpers.tests label says whether it did"
)
RELEASE_HELP = {
    "dir": DIR_HELP,
    "platforms": PLATFORMS,
    "skip_tests": SKIP_TESTS,
    "allow_dirty": ALLOW_DIRTY,
    "test_list": TEST_LIST,
    "test_platforms": TEST_PLATFORMS,
    "dry_run": DRY_RUN_HELP,
}


if TYPE_CHECKING:
    from helpers.ops.release.flow import Request
    from helpers.outcome import Outcome


def _request(**kwargs: Any) -> Request:
    from helpers.ops.release.flow import Request

    return Request(**kwargs)


@task(
    help={
        "dir": DIR_HELP,
        "version": "version to tag (default: the changelog's)",
        "dry_run": DRY_RUN_HELP,
    }
)
def docker_tag_local_image_as_dev(
    ctx: Context, dir: Optional[str] = None, version: Optional[str] = None, dry_run: bool = False
) -> Outcome:
    """Tag local-<user>-X.Y.Z as dev-X.Y.Z and dev, here only."""
    from helpers.ops.release import dev

    return dev.tag_local_as_dev(_request(dir=dir, version=version, dry_run=dry_run))


@task(
    help={
        "dir": DIR_HELP,
        "version": "version to push (default: the changelog's)",
        "dry_run": DRY_RUN_HELP,
    }
)
def docker_push_dev_image(
    ctx: Context, dir: Optional[str] = None, version: Optional[str] = None, dry_run: bool = False
) -> Outcome:
    """Push dev-X.Y.Z to every configured registry, then move dev (never replaces a version)."""
    from helpers.ops.release import dev

    return dev.push_dev(_request(dir=dir, version=version, dry_run=dry_run))


@task(help=RELEASE_HELP)
def docker_release_dev_image(
    ctx: Context,
    dir: Optional[str] = None,
    platforms: Optional[str] = None,
    skip_tests: bool = False,
    allow_dirty: bool = False,
    test_list: str = "fast,slow",
    test_platforms: str = "native",
    dry_run: bool = False,
) -> Outcome:
    """Build local -> test in it -> push dev-X.Y.Z (every platform, one tag) -> move dev."""
    from helpers.ops.release import dev

    flags = dict(platforms=platforms, skip_tests=skip_tests, allow_dirty=allow_dirty)
    flags.update(test_platforms=test_platforms)
    return dev.release_dev(_request(dir=dir, test_list=test_list, dry_run=dry_run, **flags))


@task(
    help={
        "dir": DIR_HELP,
        "candidate": "tag prod-<short commit>; needs no version bump",
        "dry_run": DRY_RUN_HELP,
    }
)
def docker_build_prod_image(
    ctx: Context, dir: Optional[str] = None, candidate: bool = False, dry_run: bool = False
) -> Outcome:
    """Build prod-X.Y.Z here: the dev image plus this dir's code (or devops/prod.Dockerfile)."""
    from helpers.ops.release import prod

    return prod.build_prod(_request(dir=dir, candidate=candidate, dry_run=dry_run))


@task(help={**RELEASE_HELP, "candidate": "push prod-<short commit> for a trial; prod stays"})
def docker_release_prod_image(
    ctx: Context,
    dir: Optional[str] = None,
    platforms: Optional[str] = None,
    skip_tests: bool = False,
    allow_dirty: bool = False,
    test_list: str = "fast,slow",
    test_platforms: str = "native",
    candidate: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Build prod -> test the code inside it (no mount) -> push prod-X.Y.Z -> move prod."""
    from helpers.ops.release import prod

    flags = dict(platforms=platforms, skip_tests=skip_tests, allow_dirty=allow_dirty)
    flags.update(test_platforms=test_platforms)
    req = _request(dir=dir, test_list=test_list, candidate=candidate, dry_run=dry_run, **flags)
    return prod.release_prod(req)


@task(
    help={
        "dir": DIR_HELP,
        "version": "the dev version to point dev at (required)",
        "dry_run": DRY_RUN_HELP,
    }
)
def docker_rollback_dev_image(
    ctx: Context, dir: Optional[str] = None, version: str = "", dry_run: bool = False
) -> Outcome:
    """Point dev back at dev-X.Y.Z (by digest, in every registry; nothing is rebuilt)."""
    from helpers.ops.release import rollback

    return rollback.rollback(_request(dir=dir, version=version, dry_run=dry_run), "dev")


@task(
    help={
        "dir": DIR_HELP,
        "version": "the prod version to point prod at (required)",
        "dry_run": DRY_RUN_HELP,
    }
)
def docker_rollback_prod_image(
    ctx: Context, dir: Optional[str] = None, version: str = "", dry_run: bool = False
) -> Outcome:
    """Point prod back at prod-X.Y.Z (by digest, in every registry; nothing is rebuilt)."""
    from helpers.ops.release import rollback

    return rollback.rollback(_request(dir=dir, version=version, dry_run=dry_run), "prod")


@task(
    help={
        "dir": DIR_HELP,
        "stage": "dev or prod",
        "version": "the version to verify (default: the moving tag)",
        "key": "the public key (P.pub; default: config verify_key, else <signing_key>.pub)",
    }
)
def verify_image(
    ctx: Context,
    dir: Optional[str] = None,
    stage: str = "prod",
    version: Optional[str] = None,
    key: Optional[str] = None,
) -> Outcome:
    """Check the signed SBOM and provenance of every platform image a tag names (exit 1 if not)."""
    from helpers.ops.release import verify

    return verify.verify_image(dir, stage, version, key)


@task(help={"path": "where to write the private key (P, mode 0600) and P.pub"})
def generate_signing_key(ctx: Context, path: str = "") -> Outcome:
    """Make an ECDSA P-256 key pair for signed releases: P (0600) and P.pub."""
    from helpers.ops.release import keys

    return keys.generate_task(path)
