#!/usr/bin/env bash
# helpers' test suite, from a fresh machine: set up what is missing (container
# engine, base image, local registry, qemu, thin env), check lint and types, then
# run the whole suite inside helpers' own container through main_pytest.
#
#   dev_scripts/test.sh [main_pytest flags, e.g. --test-list fast]
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

dev_scripts/engine/bootstrap.sh --all
dev_scripts/thin_env/build.sh --dev
# shellcheck source=thin_env/setenv.sh
source dev_scripts/thin_env/setenv.sh --dev

# Behind a TLS-intercepting proxy the host's declared CA bundle must be trusted
# in image builds too (pip); say so when we take it from SSL_CERT_FILE.
if [ -z "${HELPERS_EXTRA_CA_CERTS:-}" ] && [ -f "${SSL_CERT_FILE:-}" ]; then
    export HELPERS_EXTRA_CA_CERTS=$SSL_CERT_FILE
    echo "test.sh: extra CA certificates for builds and runs: $SSL_CERT_FILE (from SSL_CERT_FILE)"
fi

echo "test.sh: ruff and mypy"
ruff check helpers tests benchmarks dev_scripts
ruff format --check helpers tests benchmarks dev_scripts
mypy

echo "test.sh: the suite, in helpers' own container"
exec python dev_scripts/main_pytest.py --dir . --if-missing build "$@"
