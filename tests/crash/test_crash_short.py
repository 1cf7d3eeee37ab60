"""The short form of the crash test (``tests/crash/crash_test.py``) as part of ``make test``.

It runs as a subprocess, exactly as ``make crash-test`` runs the long form, with 3 SIGKILLs
instead of 20, and also a ``postroom worker`` killed or paused past its lease at random,
cancels racing the claim, 4xx replies and mid-DATA drops; its counts are shown with
``pytest -s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import postgres_unreachable_reason

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SHORT_KILLS = "3"
HARSHER = [
    "--workers", "1", "--pause-share", "0.3", "--cancel-share", "0.2",
    "--temporary-share", "0.05", "--drop-share", "0.01",
]  # fmt: skip
TIMEOUT = 600.0
"""Far above the usual half minute: a crowded machine makes every server start slow."""


def skip_without_postgres() -> None:
    reason = postgres_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sigkilled_server_loses_and_repeats_no_email(database: str) -> None:
    if database == "postgres":
        skip_without_postgres()
    completed = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-m", "tests.crash.crash_test", "--kills", SHORT_KILLS]
        + ["--database", database, *HARSHER],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    print(f"\n{completed.stdout}{completed.stderr}")  # noqa: T201
    assert completed.returncode == 0, completed.stdout + completed.stderr
