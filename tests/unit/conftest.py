"""Unit tests never reach the container engine: starting `docker` fails loudly."""

from __future__ import annotations

import pytest

from helpers import commands


@pytest.fixture(autouse=True)
def _block_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(commands.BLOCK_ENGINE_ENV, "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/blocked-by-unit-tests.sock")
    for var in ("HELPERS_BASE_IMAGE", "HELPERS_REGISTRY", "HELPERS_EXTRA_CA_CERTS"):
        monkeypatch.delenv(var, raising=False)
