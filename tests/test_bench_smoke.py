"""The lateness benchmark (``make bench``) still runs: its smoke version, 5 + 5 emails on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench_tools import run_smoke

RESULT_LINE = re.compile(
    r"^lateness sqlite (scheduled|send_in): n=5 p50=-?\d+\.\d ms p99=-?\d+\.\d ms "
    r"max=-?\d+\.\d ms",
    re.MULTILINE,
)


@pytest.mark.slow
def test_smoke_benchmark_runs_and_prints_a_result_line_per_kind(tmp_path: Path) -> None:
    output = tmp_path / "lateness.md"
    completed = run_smoke("lateness.py", output, timeout=180)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    kinds = {match.group(1) for match in RESULT_LINE.finditer(completed.stdout)}
    assert kinds == {"scheduled", "send_in"}, completed.stdout
    assert "| sqlite | scheduled | 5 |" in output.read_text()
