"""The delivery benchmark still runs: its smoke version, 200 emails on SQLite into smtp-sink
(ceiling with smtp-source; the peer only when bench/.peer-venv exists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench_tools import ROOT, needs_bench_tools, run_smoke

RATE = r"rate=(\d+\.\d)/s"
POSTROOM_LINE = re.compile(
    rf"^delivery postroom sqlite connections=\d+ batch=\d+: emails=200 {RATE} .* "
    r"missing=0 extra=0 sink_vs_sent_at=(\d+\.\d+)s$",
    re.MULTILINE,
)
BURST_LINE = re.compile(
    r"^delivery burst sqlite connections=\d+ batch=\d+: emails=200 due_to_last=(\d+\.\d+)s "
    r"goal=\d+\.\d+s first_after_due=-?\d+\.\d+s queued_in=\d+\.\d+s missing=0 extra=0 "
    r"goal_met=(yes|no)$",
    re.MULTILINE,
)
CEILING_LINE = re.compile(rf"^delivery ceiling smtp-source sessions=16: .* {RATE} ", re.MULTILINE)
PEER_LINE = re.compile(rf"^delivery peer sqlite 1:5:100:2: emails=200 {RATE} ", re.MULTILINE)


@pytest.mark.slow
@needs_bench_tools
def test_smoke_benchmark_delivers_every_email_and_prints_its_rates(tmp_path: Path) -> None:
    output = tmp_path / "delivery.md"
    completed = run_smoke("delivery.py", output, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    postroom = POSTROOM_LINE.search(completed.stdout)
    assert postroom is not None, completed.stdout
    assert float(postroom.group(1)) > 0
    assert float(postroom.group(2)) < 1.0, "the sink's clock disagrees with sent_at"
    burst = BURST_LINE.search(completed.stdout)
    assert burst is not None, completed.stdout
    assert float(burst.group(1)) >= 0, "an email left before it was due"
    ceiling = CEILING_LINE.search(completed.stdout)
    assert ceiling is not None, completed.stdout
    assert float(ceiling.group(1)) > 0
    if (ROOT / "bench" / ".peer-venv" / "bin" / "python").exists():
        assert PEER_LINE.search(completed.stdout) is not None, completed.stdout
    report = output.read_text()
    assert re.search(r"^\| sqlite \| \d+ \| \d+ \| 200 \|", report, re.MULTILINE), report
    assert "## Throughput against the ceiling" in report
