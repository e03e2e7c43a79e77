"""Daily container work against raw docker, side by side in one run.

    python benchmarks/bench_docker.py

- unchanged `invoke docker_build_local_image` vs a fully cached `docker build` of the
  same context (target ratio <= 0.3);
- `invoke docker_cmd --cmd true` vs raw `docker run --rm IMAGE true` (target <= 1.3), and
  our own work: docker_cmd minus (raw docker run + one-task `invoke --list`) (target <= 0.1 s).
Needs a running engine and $HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from _bench import client_repo, env, invoke, line, median, seconds, write

REQS = "pytest\n"
PIP_STEP = "COPY devops/requirements.txt /tmp/r.txt\nRUN python3 -m pip install -q -r /tmp/r.txt\n"


def main() -> None:
    base = os.environ.get("HELPERS_BASE_IMAGE", "python:3.11-slim")
    with tempfile.TemporaryDirectory() as tmp:
        client = client_repo(Path(tmp) / "benchclient", ["."], {"app/main.py": "print(1)\n"})
        write(client / "devops" / "requirements.txt", REQS)
        write(
            client / "devops" / "Dockerfile",
            (client / "devops" / "Dockerfile").read_text() + PIP_STEP,
        )
        e = env(client)
        seconds(invoke("docker_build_local_image"), client, e)
        ours = median(invoke("docker_build_local_image"), client, e)
        raw_build = [
            "docker",
            "build",
            "-q",
            "-f",
            "devops/Dockerfile",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "-t",
            "helpers-bench:raw",
            ".",
        ]
        # The raw build needs the injected .helpers/ files in its context to share the cache.
        write(client / ".helpers" / "extra-ca.crt", "")
        write(client / ".helpers" / "install-ca.sh", "exit 0\n")
        theirs = median(raw_build, client, e)
        line("unchanged docker_build_local_image / cached docker build", ours, theirs, "<= 0.3")

        image = "benchclient:local-" + os.environ.get("USER", "root") + "-1.0.0"
        ours_cmd = median(invoke("docker_cmd", "--cmd", "true"), client, e)
        raw_run = median(["docker", "run", "--rm", image, "true"], client, e)
        line(
            "invoke docker_cmd --cmd true / docker run --rm IMAGE true", ours_cmd, raw_run, "<= 1.3"
        )
        plain = Path(tmp) / "plain"
        write(plain / "tasks.py", "from invoke import task\n\n\n@task\ndef hello(c):\n    pass\n")
        listing = median(invoke("--list"), plain, e)
        own = ours_cmd - raw_run - listing
        print(
            f"{'docker_cmd own work: minus docker run and invoke start-up':<58} {own:7.3f} s"
            f"  (docker run {raw_run:.3f} s, invoke --list {listing:.3f} s; target <= 0.1 s)"
        )
        subprocess.run(["docker", "rmi", "-f", "helpers-bench:raw", image], capture_output=True)


if __name__ == "__main__":
    main()
