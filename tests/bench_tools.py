"""What the benchmark smoke tests share: how they run a benchmark, and the Debian programs they
drive (``make test`` installs them with ``bench/tools.sh`` when it can): without them those
tests are skipped, with the reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SBIN = "/usr/sbin:/usr/bin:/bin"
MISSING = [
    name for name in ("smtp-sink", "smtp-source", "wrk") if shutil.which(name, path=SBIN) is None
]

needs_bench_tools = pytest.mark.skipif(
    bool(MISSING),
    reason=f"benchmark tools missing ({', '.join(MISSING)}): run bench/tools.sh as root",
)


ROOT = Path(__file__).resolve().parents[1]


def run_smoke(script: str, output: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python bench/<script> --smoke --output <output>`` with warnings as errors; its exit
    status and output are the caller's to check."""
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-W", "error", str(ROOT / "bench" / script), "--smoke", "--output",
         str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip
