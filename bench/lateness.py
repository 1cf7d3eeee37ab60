"""Lateness of queued emails (delivery issue, item 16): how long after its due time each
``scheduled`` and ``send_in`` email reaches the SMTP server.

For each database (SQLite in a temporary folder, and a fresh PostgreSQL database) this starts a
real ``postroom serve`` whose sending account is an SMTP sink running in this process, creates a
user and key with the CLI, queues the emails through the API (the scheduled ones first, then
the send_in ones), waits until every one arrived and reports p50/p99/max of
``received_at - due`` per kind. Goal: p99 <= 100 ms. See bench/README.md.

    python bench/lateness.py            # 200 + 200 emails on SQLite and PostgreSQL
    python bench/lateness.py --smoke    # 5 + 5 emails on SQLite only

Exit status: 0 when every email arrived exactly once (whether or not the goal was met), 1 when
one went missing or arrived twice, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from processes import (
    HOST,
    BenchmarkError,
    SinkHandler,
    busy_warning,
    chosen_databases,
    cpu_seconds,
    create_api_key,
    database_url,
    free_port,
    machine_facts,
    percentile,
    progress,
    publish,
    running_server,
    say,
    server_environment,
    smtp_sink,
)

GOAL_P99_MS = 100.0
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results" / "lateness.md"
CALIBRATION_POSTS = 10
"""Drafts created first to measure how long one POST takes here (their median)."""
SAFETY = 2.0
"""The scheduled window opens no sooner than 2 x the expected time to create those emails."""
ARRIVAL_GRACE = 30.0
"""Seconds to keep waiting for messages after the last one was due."""
DUPLICATE_WATCH = 1.0
"""Seconds to keep listening after the last arrival, to catch a second copy."""


# -- the workload --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    emails_per_kind: int
    scheduled_window: tuple[float, float]
    """``date_scheduled`` lies this many seconds (from, to) after queueing began, or later."""
    send_in_range: tuple[int, int]
    backends: tuple[str, ...]
    seed: int
    smtp_query: str = ""
    """Appended to the sink's SMTP URL, e.g. ``?connections=16`` (default: the server's)."""


@dataclass(frozen=True)
class Queued:
    message_id: str
    due: datetime
    created_late: bool
    """The API answered only after the email was already due (the sample is meaningless)."""


class EmailApi:
    """Creates emails on one lead through the API, one request at a time, timing each."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.lead_id = self._post("lead/", {"name": "Bench Corp"})["id"]
        self.post_seconds: list[float] = []

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        number = len(self.post_seconds)
        body = {
            "lead_id": self.lead_id,
            "sender": "bench@sender.example.com",
            "to": [f"r{number}@buyer.example.com"],
            "subject": f"Bench {number}",
            "body_text": "Hello",
            **fields,
        }
        started = time.monotonic()
        email = self._post("activity/email/", body)
        self.post_seconds.append(time.monotonic() - started)
        return email

    def queue(self, fields: dict[str, Any]) -> Queued:
        email = self.create(fields)
        due = due_time(email)
        return Queued(email["message_ids"][0], due, datetime.now(UTC) > due)

    def seconds_per_post(self) -> float:
        for _ in range(CALIBRATION_POSTS):
            self.create({"status": "draft"})
        return statistics.median(self.post_seconds[-CALIBRATION_POSTS:])

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        if response.status_code != 200:
            raise BenchmarkError(f"POST {path} answered {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer


def due_time(email: dict[str, Any]) -> datetime:
    if email["status"] == "scheduled":
        return datetime.fromisoformat(email["date_scheduled"])
    return datetime.fromisoformat(email["date_created"]) + timedelta(seconds=email["send_in"])


def scheduled_window(workload: Workload, seconds_per_post: float) -> tuple[float, float]:
    """The configured window, pushed later when creating the scheduled emails takes longer."""
    low, high = workload.scheduled_window
    opens = max(low, SAFETY * seconds_per_post * workload.emails_per_kind + 1.0)
    return opens, opens + high - low


def queue_scheduled(api: EmailApi, workload: Workload, rng: random.Random) -> Phase:
    """Created in the order they are due, so a slowdown while creating hurts the least."""
    window = scheduled_window(workload, api.seconds_per_post())
    offsets = sorted(rng.uniform(*window) for _ in range(workload.emails_per_kind))
    start = datetime.now(UTC)
    emails = []
    for offset in offsets:
        due = start + timedelta(seconds=offset)
        emails.append(api.queue({"status": "scheduled", "date_scheduled": due.isoformat()}))
    return Phase("scheduled", f"`date_scheduled` {window[0]:.1f}-{window[1]:.1f} s ahead", emails)


def queue_send_in(api: EmailApi, workload: Workload, rng: random.Random) -> Phase:
    low, high = workload.send_in_range
    emails = [
        api.queue({"status": "outbox", "send_in": rng.randint(low, high)})
        for _ in range(workload.emails_per_kind)
    ]
    return Phase("send_in", f"`send_in` {low}-{high} s", emails)


def wait_for_arrivals(sink: SinkHandler, queued: list[Queued]) -> dict[str, list[float]]:
    """Message-ID -> arrival times, once every queued email arrived (or the grace ran out)."""
    expected = {email.message_id for email in queued}
    last_due = max(email.due for email in queued).timestamp()
    while time.time() < last_due + ARRIVAL_GRACE:
        if expected <= {message_id for message_id, _ in sink.snapshot()}:
            break
        time.sleep(0.05)
    time.sleep(DUPLICATE_WATCH)
    arrivals: dict[str, list[float]] = {}
    for message_id, received_at in sink.snapshot():
        arrivals.setdefault(message_id, []).append(received_at)
    return arrivals


# -- one database --------------------------------------------------------------------------


@dataclass
class Phase:
    """One kind of email, queued through the API and then awaited at the sink."""

    kind: str
    due: str
    """How the due times were chosen, for the report."""
    emails: list[Queued]
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    post_seconds: list[float] = field(default_factory=list)
    server_cpu_seconds: float = math.nan
    """CPU time ``postroom serve`` used from the first POST until the last message arrived."""


@dataclass(frozen=True)
class Server:
    api: EmailApi
    sink: SinkHandler
    pid: int
    backend: str

    def measure(self, queue: Callable[[], Phase]) -> Phase:
        """Run one phase: queue its emails, wait for them, note POST times and server CPU."""
        cpu_before, posts_before = cpu_seconds(self.pid), len(self.api.post_seconds)
        phase = queue()
        progress(f"{self.backend}: {len(phase.emails)} {phase.kind} emails queued")
        phase.arrivals = wait_for_arrivals(self.sink, phase.emails)
        phase.server_cpu_seconds = cpu_seconds(self.pid) - cpu_before
        phase.post_seconds = self.api.post_seconds[posts_before:]
        progress(f"{self.backend}: {phase.kind} emails arrived")
        return phase


def run_backend(backend: str, workload: Workload, postgres_url: str) -> list[Phase]:
    with (
        tempfile.TemporaryDirectory(prefix="postroom-bench-") as tmp,
        database_url(backend, Path(tmp), postgres_url) as url,
        smtp_sink() as (sink, smtp_port),
    ):
        folder, port = Path(tmp), free_port()
        smtp_url = f"smtp://{HOST}:{smtp_port}{workload.smtp_query}"
        environment = server_environment(url, folder, port, smtp_url)
        with running_server(environment, folder, port) as process:
            progress(f"{backend}: postroom serve listens on port {port}")
            key = create_api_key(environment, folder)
            progress(f"{backend}: user and API key created with the CLI")
            base_url = f"http://{HOST}:{port}/api/v1/"
            with httpx.Client(base_url=base_url, auth=(key, ""), timeout=30) as client:
                server = Server(EmailApi(client), sink, process.pid, backend)
                rng = random.Random(workload.seed)  # noqa: S311 - a reproducible workload
                phases = [
                    server.measure(lambda: queue_scheduled(server.api, workload, rng)),
                    server.measure(lambda: queue_send_in(server.api, workload, rng)),
                ]
    progress(f"{backend}: server stopped")
    return phases


# -- results -------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.1f}"


@dataclass
class Result:
    backend: str
    phase: Phase
    lateness_ms: list[float] = field(default_factory=list)
    missing: int = 0
    duplicated: int = 0
    created_late: int = 0

    @classmethod
    def of(cls, backend: str, phase: Phase) -> Result:
        result = cls(backend, phase)
        for email in phase.emails:
            times = phase.arrivals.get(email.message_id, [])
            result.missing += not times
            result.duplicated += len(times) > 1
            result.created_late += email.created_late
            if times and not email.created_late:
                result.lateness_ms.append((min(times) - email.due.timestamp()) * 1000)
        return result

    def percentile(self, p: float) -> float:
        return percentile(self.lateness_ms, p)

    @property
    def goal_met(self) -> bool:
        return self.percentile(99) <= GOAL_P99_MS and not (self.missing or self.duplicated)

    def line(self) -> str:
        return (
            f"lateness {self.backend} {self.phase.kind}: n={len(self.lateness_ms)} "
            f"p50={ms(self.percentile(50))} ms p99={ms(self.percentile(99))} ms "
            f"max={ms(max(self.lateness_ms, default=math.nan))} ms "
            f"min={ms(min(self.lateness_ms, default=math.nan))} ms missing={self.missing} "
            f"duplicated={self.duplicated} goal={'met' if self.goal_met else 'NOT met'}"
        )

    def row(self) -> str:
        return (
            f"| {self.backend} | {self.phase.kind} | {len(self.lateness_ms)} | "
            f"{ms(self.percentile(50))} | {ms(self.percentile(99))} | "
            f"{ms(max(self.lateness_ms, default=math.nan))} | "
            f"{ms(min(self.lateness_ms, default=math.nan))} | "
            f"{'yes' if self.goal_met else '**no**'} |"
        )

    def load_row(self) -> str:
        posts = [1000 * seconds for seconds in self.phase.post_seconds]
        cpu_per_email = 1000 * self.phase.server_cpu_seconds / len(self.phase.emails)
        return (
            f"| {self.backend} | {self.phase.kind} | {self.phase.due} | "
            f"{ms(percentile(posts, 50))} | {ms(percentile(posts, 99))} | {ms(cpu_per_email)} |"
        )


def problems(results: list[Result]) -> list[str]:
    found: list[str] = []
    for result in results:
        where = f"{result.backend} {result.phase.kind}"
        if result.missing or result.duplicated:
            found.append(f"{where}: {result.missing} missing, {result.duplicated} duplicated")
        if result.created_late:
            found.append(f"{where}: {result.created_late} emails created after their due time")
    return found


# -- the report ----------------------------------------------------------------------------


def facts(workload: Workload, postgres_url: str) -> list[tuple[str, str]]:
    return machine_facts(
        workload.backends,
        postgres_url,
        ("Seed", str(workload.seed)),
        ("SMTP URL options", workload.smtp_query or "(server defaults)"),
    )


def markdown(results: list[Result], facts: list[tuple[str, str]], workload: Workload) -> str:
    lines = [
        "# Lateness of scheduled and send_in emails",
        "",
        "Lateness = when the SMTP sink received the message - the email's due time "
        "(`date_scheduled`; `date_created` + `send_in`), in ms. "
        f"{workload.emails_per_kind} emails of each kind per database, the scheduled ones "
        "first. Goal: p99 <= 100 ms. Produced by `make bench`; see bench/README.md.",
        "",
        *busy_warning(
            "These numbers say more about the machine than about Postroom; "
            "run `make bench` again on an idle machine."
        ),
        "| database | kind | emails | p50 | p99 | max | min | p99 <= 100 ms |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *[result.row() for result in results],
        "",
        "| database | kind | due | POST p50 ms | POST p99 ms | server CPU ms per email |",
        "|---|---|---|---:|---:|---:|",
        *[result.load_row() for result in results],
        "",
        "| machine and run | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in facts],
    ]
    return "\n".join(lines) + "\n"


# -- command line --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="5 + 5 emails on SQLite only")
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--seed", type=int, default=None, help="replay a run's due times")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    parser.add_argument(
        "--smtp-connections", type=int, default=None, help="?connections=N on the SMTP URL"
    )
    return parser.parse_args(argv)


def workload_from(arguments: argparse.Namespace) -> Workload:
    seed = arguments.seed if arguments.seed is not None else secrets.randbelow(2**32)
    backends = chosen_databases(arguments.databases, arguments.smoke)
    connections = arguments.smtp_connections
    query = f"?connections={connections}" if connections else ""
    if arguments.smoke:
        return Workload(5, (2.0, 3.0), (1, 2), backends, seed, query)
    return Workload(200, (5.0, 10.0), (1, 5), backends, seed, query)


def run(workload: Workload, postgres_url: str) -> tuple[list[Result], str]:
    results = [
        Result.of(backend, phase)
        for backend in workload.backends
        for phase in run_backend(backend, workload, postgres_url)
    ]
    return results, markdown(results, facts(workload, postgres_url), workload)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workload = workload_from(arguments)
    output = arguments.output or (None if arguments.smoke else RESULTS)
    say(f"seed {workload.seed} (replay with --seed {workload.seed})")
    try:
        results, report = run(workload, arguments.postgres_url)
    except BenchmarkError as error:
        say(f"benchmark failed: {error}")
        return 2
    for result in results:
        say(result.line())
    publish(report, output)
    for problem in problems(results):
        say(f"PROBLEM: {problem}")
    return 1 if any(result.missing or result.duplicated for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
