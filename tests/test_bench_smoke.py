"""The lateness benchmark (``make bench``) still runs: its smoke version, 5 + 5 emails on SQLite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "bench" / "lateness.py"
RESULT_LINE = re.compile(
    r"^lateness sqlite (scheduled|send_in): n=5 p50=-?\d+\.\d ms p99=-?\d+\.\d ms "
    r"max=-?\d+\.\d ms",
    re.MULTILINE,
)


@pytest.mark.slow
def test_smoke_benchmark_runs_and_prints_a_result_line_per_kind(tmp_path: Path) -> None:
    output = tmp_path / "lateness.md"
    completed = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-W", "error", str(BENCHMARK), "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    kinds = {match.group(1) for match in RESULT_LINE.finditer(completed.stdout)}
    assert kinds == {"scheduled", "send_in"}, completed.stdout
    assert "| sqlite | scheduled | 5 |" in output.read_text()
