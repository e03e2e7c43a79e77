"""Releases against plain docker, side by side in one run.

    python benchmarks/bench_release.py

- a second `invoke docker_release_dev_image` with nothing changed (an identical
  re-release: the registry already holds dev-X.Y.Z with the same inputs) vs a plain
  `docker push` of the same two tags (target <= 1.5);
- `invoke docker_build_prod_image` after a code edit vs a plain `docker build` of the
  same generated prod Dockerfile and context after another code edit.
Needs a running engine, the local registry (bootstrap.sh --registry) and
$HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import tempfile
from pathlib import Path

from _bench import client_repo, env, invoke, line, median, seconds, write

REGISTRY = "localhost:5000"


def main() -> None:
    name = f"benchrelease{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as tmp:
        client = client_repo(
            Path(tmp) / name,
            ["."],
            {
                "repo_config.yaml": f"registry: {REGISTRY}\nplatforms: [linux/amd64]\n",
                "app/main.py": "print(1)\n",
                "tests/test_a.py": "def test_a():\n    assert True is not False\n",
            },
        )
        e = env(client)
        write(client / ".git" / "info" / "exclude", "helpers_root\n")  # a copy, not a submodule
        for argv in (["git", "add", "-A"], ["git", "-c", "user.name=b", "-c", "user.email=b@b",
                                            "commit", "-qm", "bench"]):  # fmt: skip
            subprocess.run(argv, cwd=client, check=True, capture_output=True)
        seconds(invoke("docker_release_dev_image", "--skip-tests"), client, e)
        ours = median(invoke("docker_release_dev_image", "--skip-tests"), client, e, runs=5)
        repo = f"{REGISTRY}/{name}"
        push_both = ["sh", "-c", f"docker push -q {repo}:dev-1.0.0 && docker push -q {repo}:dev"]
        theirs = median(push_both, client, e, runs=5)
        line("identical docker_release_dev_image / docker push of both tags", ours, theirs,
             "<= 1.5")  # fmt: skip

        prod_ours, prod_theirs = [], []
        generated = client / "prod.Dockerfile"
        write(generated, "ARG DEV_IMAGE\nFROM ${DEV_IMAGE}\nCOPY . /app\nWORKDIR /app\n")
        raw = ["docker", "build", "-q", "-f", "prod.Dockerfile", "--build-arg",
               f"DEV_IMAGE={repo}:dev-1.0.0", "-t", f"{name}-raw:prod", "."]  # fmt: skip
        for i in range(3):
            write(client / "app" / "main.py", f"print({i})\n")
            prod_ours.append(seconds(invoke("docker_build_prod_image"), client, e))
            write(client / "app" / "main.py", f"print({i + 100})\n")
            prod_theirs.append(seconds(raw, client, e))
        line("docker_build_prod_image after an edit / plain docker build",
             statistics.median(prod_ours), statistics.median(prod_theirs), "report")  # fmt: skip
        subprocess.run(["docker", "rmi", "-f", f"{name}-raw:prod"], capture_output=True)


if __name__ == "__main__":
    main()
