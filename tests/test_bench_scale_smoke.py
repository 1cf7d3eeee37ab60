"""The scale benchmark still runs: its smoke version, 2,000 emails over 20 leads on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench_tools import needs_bench_tools, run_smoke

NUMBER = r"\d+(?:\.\d+)?"
EXPECTED_LINES = [
    rf"^scale sqlite create empty: rate={NUMBER}/s requests=\d+ seconds={NUMBER} failed=0 ",
    r"^scale sqlite load: emails=2000 leads=\d+ loaded=\d+ seconds=",
    rf"^scale sqlite list_by_lead api \(_limit=default \(100\)\): n=100 p50={NUMBER} ms "
    rf"p99={NUMBER} ms",
    rf"^scale sqlite list_by_lead sql \(indexes as shipped\): n=50 p50={NUMBER} ms",
    rf"^scale sqlite create full: rate={NUMBER}/s requests=\d+ seconds={NUMBER} failed=0 ",
    rf"^scale sqlite create ratio: full/empty={NUMBER} goal=",
    r"^scale sqlite disk: bytes_per_email=\d+ total_bytes=\d+ emails=2000$",
]


@pytest.mark.slow
@needs_bench_tools
def test_smoke_benchmark_loads_the_store_and_prints_every_measurement(tmp_path: Path) -> None:
    output = tmp_path / "scale.md"
    completed = run_smoke("scale.py", output, timeout=180)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for expected in EXPECTED_LINES:
        assert re.search(expected, completed.stdout, re.MULTILINE), (expected, completed.stdout)
    report = output.read_text()
    assert "| sqlite | list-by-lead p99 (ms) |" in report
    assert "USING INDEX ix_email_activities_org_lead" in report
