"""The Debian programs the benchmark smoke tests drive (``make test`` installs them with
``bench/tools.sh`` when it can): without them those tests are skipped, with the reason."""

from __future__ import annotations

import shutil

import pytest

SBIN = "/usr/sbin:/usr/bin:/bin"
MISSING = [
    name for name in ("smtp-sink", "smtp-source", "wrk") if shutil.which(name, path=SBIN) is None
]

needs_bench_tools = pytest.mark.skipif(
    bool(MISSING),
    reason=f"benchmark tools missing ({', '.join(MISSING)}): run bench/tools.sh as root",
)
