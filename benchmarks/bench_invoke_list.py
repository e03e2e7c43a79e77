"""`invoke --list` in a client repo using helpers vs a one-task tasks.py (target ratio <= 1.3).

python benchmarks/bench_invoke_list.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _bench import client_repo, env, invoke, line, median, write


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        client = client_repo(Path(tmp) / "client", [".", "infra", "infra/etl", "svc/api"])
        plain = Path(tmp) / "plain"
        write(plain / "tasks.py", "from invoke import task\n\n\n@task\ndef hello(c):\n    pass\n")
        ours = median(invoke("--list"), client, env(client), runs=11)
        theirs = median(invoke("--list"), plain, env(client), runs=11)
        line("invoke --list: client repo / one-task tasks.py", ours, theirs, "<= 1.3")


if __name__ == "__main__":
    main()
