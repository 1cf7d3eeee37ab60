"""The API throughput benchmark (bench/api.py) still runs: its smoke version, 1 s runs on SQLite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench_tools import needs_bench_tools, run_smoke

RESULT_LINE = re.compile(
    r"^api sqlite (post_sent|get_one|get_list_10|ceiling|ceiling_insert): rps=\d+\.\d "
    r"p50=\d+\.\d\d ms p99=\d+\.\d\d ms max=\d+\.\d\d ms requests=(\d+) errors=0 ",
    re.MULTILINE,
)
MEMORY_LINE = re.compile(r"^api sqlite peak_rss: \d+\.\d MB ", re.MULTILINE)


@pytest.mark.slow
@needs_bench_tools
def test_smoke_benchmark_prints_a_line_per_measurement_without_errors(tmp_path: Path) -> None:
    output = tmp_path / "api.md"
    completed = run_smoke("api.py", output, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    measured = {
        match.group(1): int(match.group(2)) for match in RESULT_LINE.finditer(completed.stdout)
    }
    assert set(measured) == {"post_sent", "get_one", "get_list_10", "ceiling", "ceiling_insert"}
    assert all(requests > 0 for requests in measured.values()), completed.stdout
    assert MEMORY_LINE.search(completed.stdout), completed.stdout
    assert "| POST a `sent` email (2 KB) |" in output.read_text()
