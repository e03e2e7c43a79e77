"""Signing keys: ECDSA P-256, PEM files, the key pair `generate_signing_key` writes.

The private key (PKCS#8 PEM, unencrypted, mode 0600) comes from `$HELPERS_SIGNING_KEY`
(its PEM text, for CI secrets) or from the file `signing_key` names; never from argv.
The public key (SubjectPublicKeyInfo PEM, what `cosign verify-attestation --key` and
`openssl dgst -verify` read) from `--key`, `verify_key`, or `<signing_key>.pub`.
`cryptography` is imported only here and in dsse.py, when a release signs or verifies.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from helpers.errors import UserError
from helpers.model import project
from helpers.outcome import Outcome

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

ENV_KEY = "HELPERS_SIGNING_KEY"


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey
    where: str  # for messages: the file, or $HELPERS_SIGNING_KEY

    @property
    def keyid(self) -> str:
        return fingerprint(self.private.public_key())


@dataclass(frozen=True)
class VerifyKey:
    public: ec.EllipticCurvePublicKey
    where: str

    @property
    def keyid(self) -> str:
        return fingerprint(self.public)


def fingerprint(public: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, hex (what DSSE tools call a key id)."""
    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_pem(public: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate(path: Path) -> tuple[Path, Path, str]:
    """A new ECDSA P-256 pair: `path` (0600) and `path.pub`; refuses to overwrite either."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pub = path.with_name(path.name + ".pub")
    for existing in (path, pub):
        if existing.exists():
            raise UserError(
                f"{existing} exists: a signing key is never overwritten; pick another --path "
                "or remove it yourself (images signed with it stay verifiable only with its .pub)"
            )
    if not path.parent.is_dir():
        raise UserError(f"--path {path}: no directory {path.parent}; create it first")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)  # whatever the umask said
    pub.write_bytes(public_pem(key.public_key()))
    return path, pub, fingerprint(key.public_key())


def _private_from(pem: bytes, where: str) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as err:
        raise UserError(
            f"{where}: not an unencrypted PEM private key ({err}); make one with "
            "`invoke generate_signing_key --path P`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise UserError(f"{where}: not an ECDSA P-256 key; make one with generate_signing_key")
    return SigningKey(key, where)


def _path(target: project.Target, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else target.root / path


def signing_key(
    target: project.Target, env: Optional[dict[str, str]] = None
) -> Optional[SigningKey]:
    """The release's signing key, or None when none is configured."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_KEY, "").strip():
        return _private_from(env[ENV_KEY].encode(), f"${ENV_KEY}")
    if not target.cfg.signing_key:
        return None
    path = _path(target, target.cfg.signing_key)
    where = target.cfg.origin.get("signing_key", "repo_config.yaml")
    try:
        return _private_from(path.read_bytes(), str(path))
    except OSError as err:
        raise UserError(
            f"signing_key {path} (set in {where}) cannot be read: {err.strerror}; make it "
            "with `invoke generate_signing_key --path P` or fix the path"
        ) from None


def verify_key(target: project.Target, flag: Optional[str]) -> VerifyKey:
    """The public key to verify with: --key, `verify_key`, `<signing_key>.pub`, or the public
    half of $HELPERS_SIGNING_KEY."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    named = flag or target.cfg.verify_key
    if not named and target.cfg.signing_key:
        named = target.cfg.signing_key + ".pub"
    if not named:
        own = signing_key(target)
        if own is not None:
            return VerifyKey(own.private.public_key(), f"the public half of {own.where}")
        raise UserError(
            "no key to verify with: pass --key P.pub, or set `verify_key` (or `signing_key`) "
            "in repo_config.yaml"
        )
    path = Path(named).expanduser() if flag else _path(target, named)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as err:
        raise UserError(f"key {path} cannot be read: {err.strerror}; fix the path") from None
    except ValueError as err:
        raise UserError(f"key {path} is not a PEM public key ({err}); pass the .pub file") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UserError(f"key {path} is not an ECDSA public key; pass the .pub of a signing key")
    return VerifyKey(key, str(path))


def generate_task(path_flag: str) -> Outcome:
    if not path_flag:
        raise UserError("generate_signing_key needs --path P (the private key; P.pub too)")
    path, pub, keyid = generate(Path(path_flag).expanduser())
    return Outcome.of(
        [
            f"wrote {path} (private, mode 0600: keep it out of the repo; in CI put its text in "
            f"${ENV_KEY}) and {pub} (public: commit it, verify with it)",
            f"key id {keyid[:16]}; set `signing_key: {path}` (and `verify_key: {pub}`) in "
            "repo_config.yaml",
        ]
    )
