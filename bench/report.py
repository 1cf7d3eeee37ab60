"""Gather the result files of one ``make bench`` run into ``bench/results/latest.md``.

Each benchmark writes its own markdown file (its tables, goals and machine facts); this puts
them under one title, in the order of the issue, with their headings moved one level down.

    python bench/report.py
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
SECTIONS = ("delivery.md", "api.md", "lateness.md", "scale.md")
"""Delivery throughput and burst, API throughput and memory, punctuality, scale."""


def demoted(markdown: str) -> str:
    """Every heading one level deeper, so that the file fits under the report's title."""
    return "\n".join(f"#{line}" if line.startswith("#") else line for line in markdown.splitlines())


def report(folder: Path) -> tuple[str, list[str]]:
    """The combined markdown, and the names of the result files that were missing."""
    parts = [
        "# Postroom benchmark results",
        "",
        f"Gathered {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` from the files in "
        "`bench/results/`; each section was measured beside its ceiling or peer in the same "
        "run. See bench/README.md for how to read them.",
    ]
    missing = []
    for name in SECTIONS:
        path = folder / name
        if not path.exists():
            missing.append(name)
            continue
        parts += ["", demoted(path.read_text().strip())]
    return "\n".join(parts) + "\n", missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of result files")
    arguments = parser.parse_args()
    text, missing = report(arguments.results)
    (arguments.results / "latest.md").write_text(text)
    for name in missing:
        print(f"report: {name} is missing; run its benchmark", file=sys.stderr)  # noqa: T201
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
