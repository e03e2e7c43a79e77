"""Extra CA certificates (config `extra_ca_certs`) for builds and runs behind TLS proxies.

Builds: the context gets `.helpers/extra-ca.crt` (the listed files concatenated,
empty when none) and `.helpers/install-ca.sh`; a Dockerfile opts in with

    COPY .helpers/ /tmp/helpers-build/
    RUN sh /tmp/helpers-build/install-ca.sh

which adds the certificates to the system bundle (what curl, git and openssl read)
and points at it what else has its own: pip (/etc/pip.conf), uv (/etc/uv/uv.toml
`native-tls`), and requests and poetry (any certifi bundle already in the image gets
them appended). A later RUN that installs certifi (poetry install) should source
/etc/helpers/ca-env.sh first: it exports SSL_CERT_FILE and REQUESTS_CA_BUNDLE.
Runs: the same files are mounted read-only and named by $HELPERS_EXTRA_CA_CERTS inside
the container, and SSL_CERT_FILE / REQUESTS_CA_BUNDLE name the image's system bundle
(RUN_ENV), so requests, poetry, uv and curl trust them at run time too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers.errors import UserError

CONTAINER_PATH = "/etc/helpers/extra-ca.crt"
INSTALL_SCRIPT = """#!/bin/sh
# Written by helpers: add the extra CA certificates of repo_config.yaml to the image.
set -e
src="$(dirname "$0")/extra-ca.crt"
[ -s "$src" ] || exit 0
mkdir -p /usr/local/share/ca-certificates /etc/ssl/certs
cp "$src" /usr/local/share/ca-certificates/helpers-extra.crt
bundle=/etc/ssl/certs/ca-certificates.crt
cat "$src" >> "$bundle"
printf '[global]\\ncert = %s\\n' "$bundle" > /etc/pip.conf
mkdir -p /etc/uv /etc/helpers
printf 'native-tls = true\\n' > /etc/uv/uv.toml
for certifi in $(find / -xdev -path '*/certifi/cacert.pem' 2>/dev/null); do
    cat "$src" >> "$certifi"
done
printf 'export SSL_CERT_FILE=%s REQUESTS_CA_BUNDLE=%s\\n' "$bundle" "$bundle" \\
    > /etc/helpers/ca-env.sh
"""
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What requests, poetry, uv and curl read in a container whose image ran install-ca.sh.
RUN_ENV = {"SSL_CERT_FILE": SYSTEM_BUNDLE, "REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE}


def bundle(paths: Sequence[str], root: Path) -> bytes:
    """The listed PEM files concatenated (relative paths are from the repo root)."""
    chunks = []
    for name in paths:
        path = Path(name) if Path(name).is_absolute() else root / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(
                f"extra_ca_certs: cannot read {path} ({exc.strerror}); "
                "fix the path in repo_config.yaml or $HELPERS_EXTRA_CA_CERTS"
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise UserError(f"extra_ca_certs: {path} holds no PEM certificate; list PEM files")
        chunks.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(chunks)


def build_files(paths: Sequence[str], root: Path) -> dict[str, bytes]:
    return {
        ".helpers/extra-ca.crt": bundle(paths, root),
        ".helpers/install-ca.sh": INSTALL_SCRIPT.encode(),
    }
