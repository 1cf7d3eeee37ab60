"""Where the CPU goes (issue #8, point 8): py-spy profiles of the delivery worker and of the API
server under the benchmarks' own load, summarised by library into bench/results/profiles.md.

1. ``bench/delivery.py`` sends 10,000 outbox emails (128 SMTP connections, batches of 5,000,
   no peer) while py-spy samples ``postroom worker`` (all threads, 200 Hz).
2. ``bench/api.py`` runs its measurements and one more POST run of ``sent`` emails while
   py-spy samples ``postroom serve``: only the thread holding the GIL, so SQLite's own C code
   (which runs without it) is not in these shares.

Each sample is charged to the library of its innermost Python frame; samples of threads
waiting (the event loop's ``select``, aiosqlite's idle queue) are left out, and a sample
inside aiosqlite's call of the driver is SQLite's own C code. Then Postroom's functions by
inclusive share. Needs py-spy (``make profile`` installs it into .venv).

    python bench/profiles.py                       # SQLite and PostgreSQL, a few minutes
    python bench/profiles.py --databases sqlite
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from processes import chosen_databases, cpu_model, load_average, say

BENCH = Path(__file__).parent
RESULTS = BENCH / "results" / "profiles.md"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]*):(?P<line>\d+)\)$")

WAITING = (
    ("selectors.py", None),
    ("aiosqlite/core.py", "59"),
    ("threading.py", None),
    ("asyncio/runners.py", None),
)
"""Innermost frames of a thread that is waiting, not working."""

SQLITE_ENGINE = "SQLite engine (C code, in aiosqlite's thread)"

LIBRARIES = (
    ("aiosqlite/core.py:63", SQLITE_ENGINE),
    ("aiosqlite/", "aiosqlite (thread hand-off)"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("psycopg/", "psycopg"),
    ("aiosmtplib/", "aiosmtplib (SMTP client)"),
    ("email/", "stdlib email (MIME)"),
    ("asyncio/", "asyncio event loop"),
    ("postroom/", "Postroom's own code"),
    ("pydantic", "Pydantic"),
    ("fastapi/", "FastAPI"),
    ("starlette/", "Starlette"),
    ("uvicorn/", "uvicorn"),
    ("jinja2/", "Jinja2"),
)


SQLITE_CALLERS = (("postroom/kit/sqlite_connection.py", "OneTripCursor._run_and_fetch"),)
"""Functions whose own samples are SQLite's C code: the one-trip cursor runs statements and
fetches rows there (in aiosqlite's thread), as aiosqlite's own worker does for other calls."""

PLUMBING = ("postroom/cli.py", "postroom/kit/asgi.py", "postroom/kit/limits.py")
"""Postroom frames every request passes through (the CLI, pure-ASGI middlewares): left out of
the inclusive ranking, where they would only repeat the request's total."""


def library_of(frame: str) -> str | None:
    """The library a leaf frame belongs to; None for a waiting thread."""
    parsed = FRAME.match(frame)
    if parsed is None:
        return "other (stdlib and the rest)"
    file, line = parsed["file"], parsed["line"]
    for waiting_file, waiting_line in WAITING:
        if file.endswith(waiting_file) and waiting_line in (None, line):
            return None
    for caller_file, function in SQLITE_CALLERS:
        if file.endswith(caller_file) and parsed["function"] == function:
            return SQLITE_ENGINE
    located = f"{file}:{line}"
    for marker, name in LIBRARIES:
        if marker in located:
            return name
    return "other (stdlib and the rest)"


def summary(collapsed: Path, top: int = 20) -> list[str]:
    by_library: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or not stack:
            continue
        frames = stack.split(";")
        library = library_of(frames[-1])
        if library is None:
            continue
        count = int(count_text)
        busy += count
        by_library[library] += count
        for frame in set(frames):
            if "postroom/" in frame and not any(skip in frame for skip in PLUMBING):
                inclusive[FRAME.sub(r"\g<function> (\g<file>)", frame)] += count
    if not busy:
        return ["no busy samples"]
    lines = [f"{busy} samples of a working thread.", "", "| library | share |", "|---|---:|"]
    lines += [f"| {name} | {100 * n / busy:.1f} % |" for name, n in by_library.most_common()]
    lines += ["", "| Postroom function (inclusive) | share |", "|---|---:|"]
    lines += [f"| `{name}` | {100 * n / busy:.1f} % |" for name, n in inclusive.most_common(top)]
    return lines


def run(command: list[str]) -> None:
    say("$ " + " ".join(command))
    subprocess.run(command, check=True, cwd=BENCH.parent)  # noqa: S603 - our own scripts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, default=None, help="keep the py-spy stacks here")
    arguments = parser.parse_args(argv)
    databases = ",".join(chosen_databases(arguments.databases, smoke=False))
    python = sys.executable
    started = load_average(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="postroom-profiles-") as tmp:
        folder = arguments.keep or Path(tmp)
        run([
            python, "bench/delivery.py", "--databases", databases, "--postroom-configs",
            "128:5000", "--peer-configs", "", "--ceiling-sessions", "64",
            "--profile", str(folder), "--output", str(folder / "delivery.md"),
        ])  # fmt: skip
        run([
            python, "bench/api.py", "--databases", databases, "--duration", "10",
            "--profile", str(folder), "--output", str(folder / "api.md"),
        ])  # fmt: skip
        sections = [
            "# Where the CPU goes",
            "",
            "Produced by `python bench/profiles.py` (`make profile`); see its docstring for how "
            "samples are charged. Shares are of the samples in which a thread was working.",
            "",
            f"Machine: {cpu_model()}, Python {sys.version.split()[0]}, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average at the start {started}.",
        ]
        for collapsed in sorted(folder.glob("*.txt")):
            sections += ["", f"## {collapsed.stem}", "", *summary(collapsed)]
    report = "\n".join(sections) + "\n"
    say(report)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report)
    say(f"written to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
