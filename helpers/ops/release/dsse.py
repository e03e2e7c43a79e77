"""DSSE envelopes around in-toto statements, signed with ECDSA P-256 (SHA-256, DER).

The signature is over the pre-authentication encoding (PAE) of the payload, as DSSE v1
defines it, so `openssl dgst -sha256 -verify P.pub -signature sig.der pae.bin` checks it
as well as cosign does. The envelope's `keyid` is left empty, as cosign writes it (its
verifier skips a signature whose non-empty keyid differs from its own idea of the key);
the attestation manifest's annotation names the signer's key for messages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from helpers.ops.release.keys import SigningKey, VerifyKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement(
    subjects: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> bytes:
    """An in-toto v1 statement about (name, sha256 digest) subjects."""
    body = {
        "_type": STATEMENT_V1,
        "subject": [
            {"name": name, "digest": {"sha256": digest.removeprefix("sha256:")}}
            for name, digest in subjects
        ],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(payload: bytes, key: SigningKey, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """The envelope (JSON bytes) holding `payload` and its signature."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    sig = key.private.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Opened:
    """An envelope as read: its payload, and whether a signature verified with the key."""

    payload_type: str
    payload: bytes
    verified: bool


class MalformedError(ValueError):
    """Not a DSSE envelope at all."""


def open_envelope(raw: bytes, key: VerifyKey) -> Opened:
    """Parse an envelope and check its signatures against `key` (any one may match)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data = json.loads(raw)
        kind = str(data["payloadType"])
        payload = base64.b64decode(data["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in data["signatures"]]
    except (ValueError, KeyError, TypeError) as err:
        raise MalformedError(f"not a DSSE envelope: {err}") from None
    message = pae(kind, payload)
    for sig in sigs:
        try:
            key.public.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return Opened(kind, payload, True)
    return Opened(kind, payload, False)
