"""Unit tests never reach the container engine: starting `docker` fails loudly."""

from __future__ import annotations

import pytest

from helpers.effects import commands


@pytest.fixture(autouse=True)
def _block_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv(commands.BLOCK_ENGINE_ENV, "1")
    # A bug a test provokes is logged here, not in the user's ~/.local/state.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "state"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/blocked-by-unit-tests.sock")
    for var in ("HELPERS_BASE_IMAGE", "HELPERS_REGISTRY", "HELPERS_EXTRA_CA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    # This machine's own machine.env (bootstrap.sh's base image) never leaks into a test.
    monkeypatch.setenv("HELPERS_MACHINE_ENV", "")
    # The result cache: never the user's, never shared through a registry.
    for var in ("HELPERS_TEST_CACHE", "HELPERS_IMAGE_CACHE", "HELPERS_CACHE_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache-home"))
