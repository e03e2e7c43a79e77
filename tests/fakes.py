"""The one fake of the process seam (`helpers.effects.commands.Runner`) that unit tests use.

It records every call and answers from rules keyed by the words after the program
name (`"container inspect"`, `"run"`, `"image inspect"`); the longest matching key
wins. An answer is a Result or a function of the argv. Programs named in
`passthrough` (e.g. git, for tests on real repos) run for real; any other command
with no rule succeeds with no output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional, Union

from helpers.effects import commands

Answer = Union[commands.Result, Callable[[commands.Argv], commands.Result]]


def result(code: int = 0, out: str = "", err: str = "") -> commands.Result:
    return commands.Result((), code, out, err)


class FakeRunner:
    def __init__(
        self, answers: Optional[Mapping[str, Answer]] = None, passthrough: Sequence[str] = ()
    ) -> None:
        self.answers = dict(answers or {})
        self.passthrough = tuple(passthrough)
        self.calls: list[tuple[commands.Argv, Optional[str]]] = []

    @property
    def argvs(self) -> list[commands.Argv]:
        """The faked commands, in order (pass-through ones are not recorded)."""
        return [argv for argv, _ in self.calls]

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Optional[Path] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> commands.Result:
        given = tuple(argv)
        if Path(given[0]).name in self.passthrough:
            return commands.run(given, cwd=cwd, input=input, env=env)
        self.calls.append((given, input))
        words = given[1:]
        for n in range(len(words), 0, -1):
            answer = self.answers.get(" ".join(words[:n]))
            if answer is not None:
                found = answer(given) if callable(answer) else answer
                return commands.Result(given, found.code, found.out, found.err)
        return commands.Result(given, 0, "", "")
