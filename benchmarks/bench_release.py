"""Releases against plain docker, side by side in one run.

    python benchmarks/bench_release.py

- a second `invoke docker_release_dev_image` with nothing changed (an identical
  re-release: the registry already holds dev-X.Y.Z with the same inputs) vs a plain
  `docker push` of the same two tags (target <= 1.5);
- `invoke docker_build_prod_image` after a code edit vs a plain `docker build` of the
  same generated prod Dockerfile and context after another code edit;
- signed releases (issue 20): a prod release of the example repo's `services/api`
  signed (SBOM + provenance + DSSE signatures, attached in the registry) vs the same
  release unsigned, alternated, each on a fresh version; what signing adds per platform
  image (target <= 10 s and <= 25 % of the unsigned prod release), and the SBOM read of
  an arm64 image under qemu (the slowest part of a foreign platform's signing).
Needs a running engine, the local registry (bootstrap.sh --registry) and
$HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).

    python benchmarks/bench_release.py [--signing-only] [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import ROOT, client_repo, env, invoke, line, median, seconds, write

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


def _example_repo(root: Path) -> Path:
    """examples/client_repo as a git repo with this checkout copied in as helpers_root."""
    shutil.copytree(ROOT / "examples" / "client_repo", root)
    client_repo(root / "scratch", [])  # only for its helpers_root copy
    shutil.move(str(root / "scratch" / "helpers_root"), root / "helpers_root")
    shutil.rmtree(root / "scratch")
    shutil.copy(root / ".env.example", root / ".env")
    config = root / "repo_config.yaml"
    text = config.read_text().replace("image_name: acme", f"image_name: {root.name}")
    config.write_text(text + f"registry: {REGISTRY}\nplatforms: [linux/amd64]\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    write(root / ".git" / "info" / "exclude", "helpers_root\n")  # a copy, not a submodule
    _commit(root, "bench")
    return root


def _commit(root: Path, message: str) -> None:
    for argv in (["git", "add", "-A"], ["git", "-c", "user.name=b", "-c", "user.email=b@b",
                                        "commit", "-qm", message]):  # fmt: skip
        subprocess.run(argv, cwd=root, check=True, capture_output=True)


def _bump(root: Path, rel: str, version: str) -> None:
    path = root / rel / "changelog.txt"
    name = rel.replace("/", "-")
    path.write_text(f"# {name}-{version}\n- 2026-12-02\n- bench\n\n" + path.read_text())
    _commit(root, f"{rel} {version}")


def signing(pairs: int) -> None:
    """Prod releases of the example's services/api, signed and unsigned, alternated."""
    rel = "services/api"
    with tempfile.TemporaryDirectory() as tmp:
        root = _example_repo(Path(tmp) / f"benchsign{secrets.token_hex(3)}")
        e = env(root)
        e.pop("HELPERS_SIGNING_KEY", None)
        subprocess.run(invoke("generate_signing_key", "--path", str(Path(tmp) / "k")), cwd=root,
                       env=e, check=True, capture_output=True)  # fmt: skip
        signed_env = {**e, "HELPERS_SIGNING_KEY": (Path(tmp) / "k").read_text()}
        plain: list[float] = []
        signed: list[float] = []
        steps: list[float] = []  # the attest step itself, as the release reports it
        version = 1
        for i in range(2 * pairs + 1):  # the first, unsigned, warms the caches: not counted
            version += 1
            _bump(root, rel, f"3.{version}.0")
            seconds(invoke("docker_release_dev_image", "--dir", rel, "--skip-tests"), root, e)
            use = signed_env if i % 2 else e
            start = time.perf_counter()
            done = subprocess.run(invoke("docker_release_prod_image", "--dir", rel), cwd=root,
                                  env=use, capture_output=True, text=True)  # fmt: skip
            took = time.perf_counter() - start
            if done.returncode:
                sys.exit(f"benchmark step failed: prod release\n{done.stdout}{done.stderr}")
            steps += [float(m) for m in re.findall(r"^attested .* \(([0-9.]+) s\)$",
                                                     done.stderr, re.MULTILINE)]  # fmt: skip
            if i:
                (signed if i % 2 else plain).append(took)
        ours, theirs = statistics.median(signed), statistics.median(plain)
        added = ours - theirs
        line("signed prod release / unsigned (services/api)", ours, theirs, "report")
        step = statistics.median(steps)
        for what, extra in (
            ("signing adds (signed - unsigned medians)", added),
            ("the attest step itself (SBOM wait, sign, attach)", step),
        ):
            print(f"{what:<58} {extra:7.3f} s  {100 * extra / theirs:5.1f} % of the unsigned"
                  " prod release  (target <= 10 s and <= 25 %)")  # fmt: skip
        _forget(root.name, f"{root.name}-services-api")


def _forget(name: str, repo: str) -> None:
    """Remove what the benchmark made: its local images and its registry tags."""
    import json
    import urllib.request

    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True).stdout.split()  # fmt: skip
    for tag in (t for t in listed if name in t):
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    base = f"http://{REGISTRY}/v2/{repo}"
    accept = "application/vnd.oci.image.manifest.v1+json, " \
             "application/vnd.docker.distribution.manifest.v2+json"  # fmt: skip
    with urllib.request.urlopen(f"{base}/tags/list", timeout=10) as resp:
        tags = json.loads(resp.read()).get("tags") or []
    for tag in tags:
        head = urllib.request.Request(f"{base}/manifests/{tag}", method="HEAD",
                                      headers={"Accept": accept})  # fmt: skip
        try:
            with urllib.request.urlopen(head, timeout=10) as resp:
                digest = resp.headers["Docker-Content-Digest"]
            gone = urllib.request.Request(f"{base}/manifests/{digest}", method="DELETE")
            urllib.request.urlopen(gone, timeout=10).close()
        except OSError:
            continue


def arm64_sbom_read() -> None:
    """The SBOM read of an arm64 image (its own python3 under qemu) vs the amd64 one."""
    sys.path.insert(0, str(ROOT))
    from helpers.ops.release import sbom

    base = os.environ.get("HELPERS_BASE_IMAGE", "helpers-python:3.11-bookworm")
    arm = f"{base}-arm64"
    if subprocess.run(["docker", "image", "inspect", arm], capture_output=True).returncode:
        print(f"skipped the arm64 SBOM read: no {arm} (bootstrap.sh --base --arch arm64)")
        return
    times = {}
    for image, plat in ((arm, "linux/arm64"), (base, "linux/amd64")):
        start = time.perf_counter()
        for _ in range(3):
            sbom.scan(image, plat)
        times[plat] = (time.perf_counter() - start) / 3
    line("SBOM read of an arm64 image (qemu) / amd64", times["linux/arm64"],
         times["linux/amd64"], "<= 10 s absolute")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="releases against plain docker")
    parser.add_argument("--signing-only", action="store_true")
    parser.add_argument("--pairs", type=int, default=3, help="signed/unsigned release pairs")
    args = parser.parse_args()
    if not args.signing_only:
        main()
    signing(args.pairs)
    arm64_sbom_read()
