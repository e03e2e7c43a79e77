"""Batched engine look-ups for runs over many dirs (main_pytest).

A run over N dirs asks the engine about each dir's image and warm container: 2N
docker CLI calls of ~50-100 ms each before any test starts. `Prefetched` makes
those look-ups in two or three calls up front and then answers the per-dir
`docker image inspect --format {{json .}} REF` and `docker container inspect
--format ... NAME` calls from them, each answer once (a second ask, e.g. after a
rebuild or a start, goes to the engine); every other command passes through.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Optional

from helpers.effects import commands, engine

IMAGE_INSPECT = engine.IMAGE_INSPECT
WARM_LABEL = "io.helpers.warm"


class Prefetched:
    """A `commands.Runner` with some answers known in advance (thread-safe)."""

    def __init__(self, runner: commands.Runner = commands.run) -> None:
        self.runner = runner
        self.lock = threading.Lock()
        self.images: dict[str, Optional[str]] = {}  # ref -> its json line; None: absent
        self.container_format: Optional[str] = None  # the format the answers were made with
        self.containers: dict[str, str] = {}  # name -> its inspect output
        self.asked: set[str] = set()  # container names already answered once

    def load_images(self, refs: Iterable[str]) -> None:
        wanted = sorted(set(refs))
        if not wanted:
            return
        try:
            found = engine.inspect_json(wanted, self.runner)
        except engine.EngineDownError:
            return  # let each dir ask (and say why)
        self.images.update(found)

    def load_containers(self, fmt: str, label: str = WARM_LABEL) -> None:
        """Every container carrying `label`, inspected with `fmt`; others count as absent."""
        listed = self.runner(
            (engine.DOCKER, "ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}")
        )
        if not listed.ok:
            return
        names = listed.out.split()
        if names:
            both = f"{{{{.Name}}}}\t{fmt}"
            result = self.runner((engine.DOCKER, "container", "inspect", "--format", both, *names))
            for line in result.out.splitlines():
                name, _, rest = line.partition("\t")
                self.containers[name.lstrip("/")] = rest
        self.container_format = fmt

    def known_absent(self, ref: str) -> bool:
        """The batch found no local image `ref` (asks nothing, answers nothing away)."""
        with self.lock:
            return ref in self.images and self.images[ref] is None

    def _answer(self, key: tuple[str, ...]) -> Optional[commands.Result]:
        if key[:5] == IMAGE_INSPECT and len(key) == 6 and key[5] in self.images:
            line = self.images.pop(key[5])
            if line is not None:
                return commands.Result(key, 0, line + "\n", "")
            return commands.Result(key, 1, "", f"Error: No such image: {key[5]}")
        inspect = (engine.DOCKER, "container", "inspect", "--format")
        if key[:4] == inspect and len(key) == 6 and key[4] == self.container_format:
            name = key[5]
            if name not in self.asked:
                self.asked.add(name)
                if name in self.containers:
                    return commands.Result(key, 0, self.containers[name] + "\n", "")
                return commands.Result(key, 1, "", f"Error: No such container: {name}")
        return None

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Optional[Path] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> commands.Result:
        with self.lock:
            known = self._answer(tuple(argv))
        return known if known is not None else self.runner(argv, cwd=cwd, input=input, env=env)
