#!/usr/bin/env bash
# helpers' test suite, from a fresh machine: set up what is missing (container
# engine, base images (also arm64, for the multi-arch tests), local registry, qemu,
# thin env), check lint and types, then
# run the whole suite inside helpers' own container through main_pytest.
#
#   dev_scripts/test.sh [main_pytest flags, e.g. --test-list fast]
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=_setup.sh
source dev_scripts/_setup.sh
setup_machine "$root" "--all --arch arm64" "--dev"

echo "test.sh: ruff and mypy"
ruff check helpers tests benchmarks dev_scripts
ruff format --check helpers tests benchmarks dev_scripts
mypy

echo "test.sh: the suite, in helpers' own container"
# The suite's temp client repos build on this machine's base image, a machine default
# in machine.env, which the container does not have: hand it on by name
# (env_passthrough in repo_config.yaml). An exported one is kept.
if [ -z "${HELPERS_BASE_IMAGE:-}" ]; then
    HELPERS_BASE_IMAGE=$(python -c 'from helpers.model import config
print(config.machine_defaults().get("HELPERS_BASE_IMAGE", ""))')
    export HELPERS_BASE_IMAGE
fi
# Integration tests mostly wait on the engine: several pytest workers (pytest-xdist), one
# module per worker at a time so module-scoped fixtures are built once.
workers=${HELPERS_SUITE_WORKERS:-4}
exec python dev_scripts/main_pytest.py --dir . --if-missing build \
    --pytest-opts "-n $workers --dist loadfile" "$@"
