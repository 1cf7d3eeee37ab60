"""Close's webhook signature: hex HMAC-SHA256, keyed by the bytes of the subscription's hex
``signature_key``, over the ``close-sig-timestamp`` value followed by the raw request body."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_BYTES = 32
TIMESTAMP_HEADER = "close-sig-timestamp"
HASH_HEADER = "close-sig-hash"


def new_signature_key() -> str:
    """32 random bytes as 64 hex characters."""
    return secrets.token_hex(KEY_BYTES)


def sign(timestamp: str, body: bytes, key_hex: str) -> str:
    """The ``close-sig-hash`` of ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = timestamp.encode() + body
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).hexdigest()


def signature_headers(timestamp: int, body: bytes, key_hex: str) -> dict[str, str]:
    stamp = str(timestamp)
    return {TIMESTAMP_HEADER: stamp, HASH_HEADER: sign(stamp, body, key_hex)}
