"""The smallest Django project that runs django-post_office: its app, a database and Django's
SMTP backend pointed at the benchmark's sink. Everything comes from ``PEER_*`` variables, which
``send.py`` sets from its command line before Django starts.

    PEER_DATABASE_URL    sqlite:////path/peer.db or postgresql://user@host:port/name
    PEER_SMTP_PORT       the sink's port on 127.0.0.1
    PEER_THREADS         POST_OFFICE["THREADS_PER_PROCESS"] (post_office's default: 5)
    PEER_BATCH_SIZE      POST_OFFICE["BATCH_SIZE"] (default: 100)
    PEER_LOG_LEVEL       POST_OFFICE["LOG_LEVEL"] (default: 2, a Log row per email)
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit


def database(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path[1:]}
    if parts.scheme in {"postgresql", "postgres"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ValueError(f"unsupported PEER_DATABASE_URL {url!r}: use sqlite:// or postgresql://")


SECRET_KEY = "post-office-benchmark-peer"  # noqa: S105 - a throw-away project on loopback
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["post_office"]
DATABASES = {"default": database(os.environ["PEER_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["PEER_SMTP_PORT"])
EMAIL_USE_TLS = False

POST_OFFICE = {
    "BACKENDS": {"default": EMAIL_BACKEND},
    "THREADS_PER_PROCESS": int(os.environ.get("PEER_THREADS", "5")),
    "BATCH_SIZE": int(os.environ.get("PEER_BATCH_SIZE", "100")),
    "LOG_LEVEL": int(os.environ.get("PEER_LOG_LEVEL", "2")),
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"post_office": {"handlers": ["stderr"], "level": "WARNING"}},
}
