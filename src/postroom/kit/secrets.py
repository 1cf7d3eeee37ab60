"""Encryption at rest for stored secrets (SMTP passwords), with Fernet from ``cryptography``.

The key comes from ``POSTROOM_SECRET_KEY`` or, when that is unset, from
``$POSTROOM_DATA_DIR/secret.key``, generated (mode 0600) on first use.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret


class SecretBox:
    """Encrypts and decrypts short strings."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_fernet_key(secret))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("stored secret cannot be decrypted with this secret key") from error


def secret_box(secret_key: str | None, data_dir: Path) -> SecretBox:
    """The box for ``POSTROOM_SECRET_KEY``, or for the generated key file."""
    return SecretBox(secret_key or load_or_create_secret(data_dir))
