"""Postroom's own log: the ``postroom.*`` loggers, on stderr, at ``POSTROOM_LOG_LEVEL``.

Only Postroom's loggers are set up, not the root logger, so the libraries' own records (httpx
logs every request at INFO) stay at Python's default: warnings and above, unformatted."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_postroom_at(level: str) -> None:
    """Send every ``postroom.*`` record of ``level`` and above to stderr, once each."""
    logger = logging.getLogger("postroom")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    logger.propagate = False
