"""Delivery throughput and punctuality (delivery issue #8, points 3 and 5): how many emails a
second ``postroom worker`` delivers into Postfix's smtp-sink on loopback, against smtp-source
(the ceiling) and django-post_office (the peer) into the same kind of sink, and how soon a
burst of emails all due in the same second has left.

Per database (SQLite in a temporary folder, a fresh PostgreSQL database):

- **throughput**: N ``outbox`` emails (2 KB text + 2 KB HTML, one recipient each), due at
  once, are created while no dispatcher runs; then ``postroom worker`` starts, and the rate
  is (N - 1) / (last arrival - first arrival) at the sink;
- **burst**: with that worker still running, N ``scheduled`` emails with the same
  ``date_scheduled`` (a whole second, a few seconds ahead) are created; the burst's time is
  last arrival - due second, and the goal is N / (throughput rate) + 1 s;
- **peer**: django-post_office (bench/peer/) queues the same N emails with ``send_many``
  and sends them with ``send_queued_mail``, in its default and its best documented
  configurations; goal: Postroom >= 3 x its best;

and once: **ceiling**: smtp-source sends N messages of the same size with a few session
counts (``-s``, sessions reused with ``-d``); the best is reported with Postroom's ratio to it.

    python bench/delivery.py                 # 10,000 emails, SQLite and PostgreSQL
    python bench/delivery.py --smoke         # 200 emails, SQLite; the peer only if installed
    python bench/delivery.py --databases sqlite --emails 2000 --profile /tmp/prof

Exit status: 0 when every email arrived exactly once (whether or not the goals were met), 1
when one went missing or arrived twice, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, TypeVar

from processes import (
    HOST,
    STOP_TIMEOUT,
    BenchmarkError,
    busy_warning,
    chosen_databases,
    cpu_seconds,
    free_port,
    fresh_postgres_database,
    machine_facts,
    port_answers,
    postroom_command,
    progress,
    publish,
    say,
    server_environment,
    stop,
)
from sqlalchemy import func, insert, inspect, select

from postroom import migrate
from postroom.config import Settings
from postroom.db import Database
from postroom.dispatch import repository as dispatch_repository
from postroom.emails import service as email_service
from postroom.emails.schemas import EmailActivityCreate
from postroom.emails.states import EmailStatus
from postroom.kit.datetimes import as_utc, utcnow
from postroom.kit.ids import new_id
from postroom.leads import service as lead_service
from postroom.leads.schemas import LeadCreate
from postroom.models import EmailActivity, EmailThread
from postroom.tracking.service import new_open_token
from postroom.users import service as user_service
from postroom.users.auth import Caller

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "delivery.md"
PEER_DIR = HERE / "peer"
PEER_PYTHON = HERE / ".peer-venv" / "bin" / "python"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

SENDER = "bench@sender.example.com"
SUBJECT = "Your delivery benchmark quote"
BODY_BYTES = 2048
GOAL_PEER_RATIO = 3.0
AIM_CEILING_RATIO = 0.25
BURST_SLACK_SECONDS = 1.0
BURST_MIN_LEAD_SECONDS = 2.0
"""The burst is due at least this long after its emails start being created ..."""
BURST_LEAD_FACTOR = 2.0
"""... and at least twice as long as creating the throughput phase's emails took."""
QUEUE_CHUNK = 1000
"""Emails inserted per transaction by the bulk loader."""
MIN_RATE_FOR_TIMEOUT = 20.0
"""Give up waiting when the sink receives fewer emails a second than this on average."""
ARRIVAL_GRACE = 60.0
DUPLICATE_WATCH = 0.5
"""Seconds to keep counting after the last expected message, to catch extra copies."""


# -- configurations ------------------------------------------------------------------------


@dataclass(frozen=True)
class PostroomConfig:
    connections: int
    """``?connections=N`` on POSTROOM_SMTP_URL: SMTP sessions to the sink."""
    batch_size: int
    """POSTROOM_DISPATCH_BATCH_SIZE: emails claimed (and in flight) at most."""
    workers: int = 1
    """``postroom worker`` processes on the one database (more than one: PostgreSQL only, the
    documented way to scale out; SQLite has one writer)."""

    @classmethod
    def parse(cls, text: str) -> PostroomConfig:
        connections, batch, *workers = text.split(":")
        return cls(int(connections), int(batch), int(workers[0]) if workers else 1)

    @property
    def label(self) -> str:
        label = f"connections={self.connections} batch={self.batch_size}"
        return label if self.workers == 1 else f"{label} workers={self.workers}"

    def runs_on(self, backend: str) -> bool:
        return self.workers == 1 or backend == "postgres"


@dataclass(frozen=True)
class PeerConfig:
    processes: int
    threads: int
    batch_size: int
    log_level: int

    @classmethod
    def parse(cls, text: str) -> PeerConfig:
        processes, threads, batch, log_level = (int(part) for part in text.split(":"))
        return cls(processes, threads, batch, log_level)

    @property
    def label(self) -> str:
        return (
            f"{self.processes} process{'es' if self.processes > 1 else ''} x "
            f"{self.threads} threads, BATCH_SIZE {self.batch_size}, LOG_LEVEL {self.log_level}"
        )

    @property
    def key(self) -> str:
        return f"{self.processes}:{self.threads}:{self.batch_size}:{self.log_level}"


PEER_DEFAULT = PeerConfig(1, 5, 100, 2)
"""post_office's defaults: ``send_queued_mail -p 1``, 5 threads, batches of 100, full logs."""


@dataclass(frozen=True)
class Workload:
    emails: int
    backends: tuple[str, ...]
    postroom: tuple[PostroomConfig, ...]
    peer: tuple[PeerConfig, ...]
    ceiling_sessions: tuple[int, ...]
    profile_dir: Path | None = None


# -- the message ---------------------------------------------------------------------------

SENTENCES = (
    "Thank you for taking the time to talk with us this week.",
    "As promised, here is a summary of the plan we discussed and the next steps.",
    "The first phase covers the migration of your existing records and a training session.",
    "The second phase adds the reporting dashboards your team asked for.",
    "Let me know if anything is missing or if the dates need to move.",
)


def body_text() -> str:
    """About ``BODY_BYTES`` of plain prose, whole sentences, in short paragraphs."""
    paragraphs: list[str] = []
    size = 0
    while size < BODY_BYTES:
        paragraph = " ".join(SENTENCES)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def body_html() -> str:
    """The same text as HTML, padded with markup to about ``BODY_BYTES`` of HTML."""
    paragraphs = "".join(f"<p>{line}</p>" for line in body_text().split("\n\n"))
    return f"<html><body>{paragraphs}</body></html>"


def ceiling_message() -> bytes:
    """What smtp-source sends: a multipart/alternative message like Postroom's."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = "r0@buyer.example.com"
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="sender.example.com")
    message.set_content(body_text())
    message.add_alternative(body_html(), subtype="html")
    return message.as_bytes()


# -- the sink ------------------------------------------------------------------------------

COUNTER = re.compile(rb"mesg=(\d+)")


class Sink:
    """Postfix's smtp-sink with ``-c``: it prints its message counter on every change, and a
    thread notes the wall-clock time at which each new count was read."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.counts: list[tuple[float, int]] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        if stream is None:
            return
        pending = b""
        while chunk := os.read(stream.fileno(), 65536):
            read_at = time.time()
            *records, pending = (pending + chunk).split(b"\r")
            counts = [int(found.group(1)) for found in map(COUNTER.search, records) if found]
            if counts:
                self._note(read_at, max(counts))

    def _note(self, read_at: float, count: int) -> None:
        with self.changed:
            if count > self.count():
                self.counts.append((read_at, count))
                self.changed.notify_all()

    def count(self) -> int:
        return self.counts[-1][1] if self.counts else 0

    def wait_for(self, total: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count() >= total, timeout)

    def reached(self, total: int) -> float:
        """When the counter first read ``total`` or more (NaN if it never did)."""
        return next((moment for moment, count in self.counts if count >= total), math.nan)


def sink_command(port: int) -> list[str]:
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    return [SMTP_SINK, "-c", *as_user, "-m", "1024", f"{HOST}:{port}", "1024"]


@contextmanager
def running_sink() -> Iterator[Sink]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        sink_command(port), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    sink = Sink(process, port)
    try:
        deadline = time.monotonic() + 10
        while not port_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError(f"smtp-sink did not start on port {port}")
            time.sleep(0.02)
        yield sink
    finally:
        stop(process)
        sink.reader.join(timeout=STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


def arrival_timeout(emails: int) -> float:
    return emails / MIN_RATE_FOR_TIMEOUT + ARRIVAL_GRACE


@dataclass
class Span:
    """``emails`` arrivals at a sink, from the first to the last."""

    emails: int
    first: float
    last: float
    extra: int = 0
    """Messages beyond the expected ones (second copies)."""
    missing: int = 0

    @property
    def rate(self) -> float:
        seconds = self.last - self.first
        return (self.emails - 1) / seconds if seconds > 0 else math.nan


def await_span(sink: Sink, base: int, emails: int, timeout: float) -> Span:
    """Wait until ``emails`` more messages than ``base`` arrived; then watch for extra ones."""
    sink.wait_for(base + emails, timeout)
    time.sleep(DUPLICATE_WATCH)
    received = sink.count() - base
    return Span(
        emails,
        sink.reached(base + 1),
        sink.reached(base + emails),
        extra=max(received - emails, 0),
        missing=max(emails - received, 0),
    )


# -- the ceiling ---------------------------------------------------------------------------


@dataclass
class CeilingResult:
    sessions: int
    span: Span
    message_bytes: int

    def line(self) -> str:
        return (
            f"delivery ceiling smtp-source sessions={self.sessions}: "
            f"messages={self.span.emails} bytes={self.message_bytes} "
            f"rate={self.span.rate:.1f}/s span={self.span.last - self.span.first:.3f}s"
        )


def run_ceiling(emails: int, sessions: int, message: Path) -> CeilingResult:
    with running_sink() as sink:
        command = [
            SMTP_SOURCE, "-d", "-s", str(sessions), "-m", str(emails), "-F", str(message),
            "-f", SENDER, "-t", "r0@buyer.example.com", f"{HOST}:{sink.port}",
        ]  # fmt: skip
        subprocess.run(command, check=True, timeout=arrival_timeout(emails))  # noqa: S603
        span = await_span(sink, 0, emails, ARRIVAL_GRACE)
    result = CeilingResult(sessions, span, message.stat().st_size)
    say(result.line())
    return result


# -- Postroom: the bulk loader -------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A draft created through Postroom's service layer, and its thread, as column values."""

    email: dict[str, Any]
    thread: dict[str, Any]


def column_values(row: Any) -> dict[str, Any]:
    return {
        attribute.key: getattr(row, attribute.key) for attribute in inspect(row).mapper.column_attrs
    }


async def create_template(database: Database, settings: Settings) -> Template:
    """User, lead and one draft through the services (the API's code path, minus HTTP)."""
    async with database.transaction() as session:
        user = await user_service.create_user(session, "bench@example.com", "Bench Mark")
        caller = Caller(user.organization_id, user.id, user.email, "Bench Mark", "none")
        view = await lead_service.create_lead(session, caller, LeadCreate(name="Bench Corp"))
        body = EmailActivityCreate(
            lead_id=view.lead.id,
            status=EmailStatus.DRAFT,
            sender=SENDER,
            to=["r0@buyer.example.com"],
            subject=SUBJECT,
            body_text=body_text(),
            body_html=body_html(),
        )
        draft = await email_service.create_email(session, caller, body, settings)
        thread = await session.get(EmailThread, draft.thread_id)
    return Template(column_values(draft), column_values(thread))


def copies(
    template: Template, first: int, count: int, status: EmailStatus, due: datetime | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for ``count`` emails (and their threads) that differ from the draft where two
    emails created through the API would: ids, recipient, Message-ID, open token, status and
    due time (``outbox`` without ``send_in``: due when created)."""
    now = utcnow()
    due_at = due or now
    emails, threads = [], []
    for number in range(first, first + count):
        thread_id = new_id("acti")
        message_id = make_msgid(domain="sender.example.com")
        threads.append({**template.thread, "id": thread_id, "created_at": now, "updated_at": now})
        emails.append(
            {
                **template.email,
                "id": new_id("acti"),
                "thread_id": thread_id,
                "status": status.value,
                "to_addresses": [f"r{number}@buyer.example.com"],
                "message_ids": [message_id],
                "message_id": message_id,
                "open_token": new_open_token(),
                "created_at": now,
                "updated_at": now,
                "activity_at": now,
                "scheduled_at": due if status is EmailStatus.SCHEDULED else None,
                "due_at": due_at,
            }
        )
    return emails, threads


async def insert_copies(
    database: Database, template: Template, emails: int, status: EmailStatus, due: datetime | None
) -> None:
    for first in range(0, emails, QUEUE_CHUNK):
        rows, threads = copies(template, first, min(QUEUE_CHUNK, emails - first), status, due)
        async with database.transaction() as session:
            await session.execute(insert(EmailThread), threads)
            await session.execute(insert(EmailActivity), rows)
            await dispatch_repository.signal_due_change(session)


async def status_counts(database: Database, statuses: Sequence[EmailStatus]) -> dict[str, int]:
    values = [status.value for status in statuses]
    async with database.transaction() as session:
        query = (
            select(EmailActivity.status, func.count())
            .where(EmailActivity.status.in_(values))
            .group_by(EmailActivity.status)
        )
        return {str(status): int(count) for status, count in (await session.execute(query)).all()}


async def sent_window(database: Database, scheduled: bool) -> tuple[float, float]:
    """First and last ``sent_at`` (as the worker noted them) of the sent outbox or scheduled
    emails: a cross-check of the sink's clock."""
    kind = (
        EmailActivity.scheduled_at.is_not(None)
        if scheduled
        else EmailActivity.scheduled_at.is_(None)
    )
    async with database.transaction() as session:
        query = select(func.min(EmailActivity.sent_at), func.max(EmailActivity.sent_at)).where(
            EmailActivity.status == EmailStatus.SENT.value, kind
        )
        first, last = (await session.execute(query)).one()
    if first is None or last is None:
        return math.nan, math.nan
    return as_utc(first).timestamp(), as_utc(last).timestamp()


class Loader:
    """Queues emails into a Postroom database from this process, without HTTP: the service
    layer creates one draft, and its row is copied with a bulk INSERT (1,000 per
    transaction), as fast as the database takes them."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.template: Template | None = None

    def prepare(self) -> None:
        migrate.upgrade(self.url)
        self.template = self._run(lambda database: create_template(database, self.settings))

    def queue(self, emails: int, status: EmailStatus, due: datetime | None = None) -> float:
        """Create the emails; return how many seconds that took."""
        template = self.template
        if template is None:
            raise BenchmarkError("Loader.queue before Loader.prepare")
        started = time.monotonic()
        self._run(lambda database: insert_copies(database, template, emails, status, due))
        return time.monotonic() - started

    def counts(self) -> dict[str, int]:
        queued_or_done = [EmailStatus.OUTBOX, EmailStatus.SCHEDULED, EmailStatus.SENT]
        return self._run(lambda database: status_counts(database, queued_or_done))

    def sent_window(self, scheduled: bool) -> tuple[float, float]:
        return self._run(lambda database: sent_window(database, scheduled))

    def _run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        """``work`` on a fresh engine in a fresh event loop (disposed of afterwards)."""

        async def main() -> T:
            database = Database(self.url, self.settings.sqlite_synchronous)
            try:
                return await work(database)
            finally:
                await database.dispose()

        return asyncio.run(main())


# -- Postroom: the worker ------------------------------------------------------------------


@contextmanager
def running_workers(
    environment: dict[str, str], folder: Path, count: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``postroom worker`` processes for the block; their output in ``worker.log``."""
    with ExitStack() as stack:
        log = stack.enter_context((folder / "worker.log").open("wb"))
        workers = []
        for _ in range(count):
            process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                postroom_command("worker"),
                env=environment,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, process)
            workers.append(process)
        yield workers


def total_cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    return sum(cpu_seconds(process.pid) for process in processes)


@contextmanager
def profiling(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy samples the process for the block (collapsed stacks in ``output``), without
    pausing it (``--nonblocking``)."""
    if output is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--nonblocking"]
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [*command, "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@dataclass
class PostroomResult:
    backend: str
    config: PostroomConfig
    worker_started: float
    """When ``postroom worker`` was started, the emails already due."""
    throughput: Span
    queued_seconds: float
    worker_cpu_seconds: float
    sink_cpu_seconds: float
    burst: Span
    burst_due: float
    burst_queued_seconds: float
    counts: dict[str, int]
    """Emails per status in the database at the end."""
    database_windows: tuple[tuple[float, float], tuple[float, float]]
    """(first, last) ``sent_at`` of the throughput and the burst emails, from the database."""

    @property
    def rate(self) -> float:
        return self.throughput.rate

    @property
    def span_seconds(self) -> float:
        return self.throughput.last - self.throughput.first

    @property
    def burst_seconds(self) -> float:
        return self.burst.last - self.burst_due

    @property
    def burst_goal_seconds(self) -> float:
        return self.burst.emails / self.rate + BURST_SLACK_SECONDS

    @property
    def lost_or_doubled(self) -> int:
        sent = self.counts.get(EmailStatus.SENT.value, 0)
        expected = self.throughput.emails + self.burst.emails
        return (
            self.throughput.missing
            + self.throughput.extra
            + self.burst.missing
            + self.burst.extra
            + abs(expected - sent)
        )

    def clock_skew(self) -> float:
        """Largest difference between a sink arrival and the matching ``sent_at`` bound."""
        (first, last), (burst_first, burst_last) = self.database_windows
        sink = (self.throughput.first, self.throughput.last, self.burst.first, self.burst.last)
        return max(
            abs(a - b) for a, b in zip(sink, (first, last, burst_first, burst_last), strict=True)
        )

    def lines(self) -> list[str]:
        where = f"{self.backend} {self.config.label}"
        return [
            f"delivery postroom {where}: emails={self.throughput.emails} "
            f"rate={self.rate:.1f}/s span={self.span_seconds:.3f}s "
            f"start_to_last={self.throughput.last - self.worker_started:.3f}s "
            f"worker_cpu={percent(self.worker_cpu_seconds, self.span_seconds)} "
            f"sink_cpu={percent(self.sink_cpu_seconds, self.span_seconds)} "
            f"queued_in={self.queued_seconds:.2f}s missing={self.throughput.missing} "
            f"extra={self.throughput.extra} sink_vs_sent_at={self.clock_skew():.3f}s",
            f"delivery burst {where}: emails={self.burst.emails} "
            f"due_to_last={self.burst_seconds:.3f}s goal={self.burst_goal_seconds:.3f}s "
            f"first_after_due={self.burst.first - self.burst_due:.3f}s "
            f"queued_in={self.burst_queued_seconds:.2f}s "
            f"missing={self.burst.missing} extra={self.burst.extra} "
            f"goal_met={'yes' if self.burst_seconds <= self.burst_goal_seconds else 'no'}",
        ]


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "nan"


def postroom_environment(
    url: str, folder: Path, sink: Sink, config: PostroomConfig
) -> dict[str, str]:
    smtp_url = f"smtp://{HOST}:{sink.port}?connections={config.connections}"
    environment = server_environment(url, folder, free_port(), smtp_url)
    environment["POSTROOM_DISPATCH_BATCH_SIZE"] = str(config.batch_size)
    return environment


def burst_due_time(queued_seconds: float) -> datetime:
    """A whole second, far enough ahead for the emails to exist before it."""
    lead = max(BURST_MIN_LEAD_SECONDS, BURST_LEAD_FACTOR * queued_seconds + 1.0)
    return datetime.fromtimestamp(math.ceil(time.time() + lead), UTC)


def run_postroom(
    backend: str, url: str, folder: Path, config: PostroomConfig, workload: Workload
) -> PostroomResult:
    emails = workload.emails
    loader = Loader(url, Settings(database_url=url, data_dir=folder / "data"))
    loader.prepare()
    queued_seconds = loader.queue(emails, EmailStatus.OUTBOX)
    progress(f"{backend}: {emails} outbox emails created in {queued_seconds:.2f} s")
    profile = workload.profile_dir / f"worker-{backend}.txt" if workload.profile_dir else None
    with running_sink() as sink:
        environment = postroom_environment(url, folder, sink, config)
        worker_started = time.time()
        with running_workers(environment, folder, config.workers) as workers:
            if not sink.wait_for(1, arrival_timeout(emails)):
                raise BenchmarkError(f"no email arrived:\n{(folder / 'worker.log').read_text()}")
            with profiling(workers[0].pid, profile):
                cpu_before = total_cpu_seconds(workers), cpu_seconds(sink.process.pid)
                sink.wait_for(emails, arrival_timeout(emails))
                cpu_after = total_cpu_seconds(workers), cpu_seconds(sink.process.pid)
            throughput = await_span(sink, 0, emails, 0)
            progress(f"{backend}: throughput {throughput.rate:.1f} emails/s")
            due = burst_due_time(queued_seconds)
            burst_queued = loader.queue(emails, EmailStatus.SCHEDULED, due)
            if time.time() >= due.timestamp():
                raise BenchmarkError(f"creating the burst took {burst_queued:.1f} s: past due")
            progress(f"{backend}: {emails} scheduled emails due at {due:%H:%M:%S} created")
            burst = await_span(sink, sink.count(), emails, arrival_timeout(emails) + 60)
    return PostroomResult(
        backend,
        config,
        worker_started,
        throughput,
        queued_seconds,
        cpu_after[0] - cpu_before[0],
        cpu_after[1] - cpu_before[1],
        burst,
        due.timestamp(),
        burst_queued,
        loader.counts(),
        (loader.sent_window(scheduled=False), loader.sent_window(scheduled=True)),
    )


# -- the peer ------------------------------------------------------------------------------


@dataclass
class PeerResult:
    backend: str
    config: PeerConfig
    span: Span
    queued_seconds: float
    statuses: str

    @property
    def rate(self) -> float:
        return self.span.rate

    def line(self) -> str:
        return (
            f"delivery peer {self.backend} {self.config.key}: emails={self.span.emails} "
            f"rate={self.rate:.1f}/s span={self.span.last - self.span.first:.3f}s "
            f"queued_in={self.queued_seconds:.2f}s missing={self.span.missing} "
            f"extra={self.span.extra} ({self.config.label}; {self.statuses})"
        )


def peer_installed() -> bool:
    return PEER_PYTHON.exists()


def install_peer() -> None:
    """bench/peer/setup.sh: bench/.peer-venv with django-post_office (idempotent)."""
    progress("installing the peer (bench/peer/setup.sh)")
    completed = subprocess.run(  # noqa: S603 - our own script
        [shutil.which("bash") or "/bin/bash", str(PEER_DIR / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"bench/peer/setup.sh failed:\n{completed.stderr}")


def peer_command(url: str, folder: Path, port: int, emails: int, config: PeerConfig) -> list[str]:
    return [
        str(PEER_PYTHON), str(PEER_DIR / "send.py"), "--database", url,
        "--smtp-port", str(port), "--emails", str(emails),
        "--text", str(folder / "body.txt"), "--html", str(folder / "body.html"),
        "--sender", SENDER, "--subject", SUBJECT,
        "--processes", str(config.processes), "--threads", str(config.threads),
        "--batch-size", str(config.batch_size), "--log-level", str(config.log_level),
        "--lockfile", str(folder / "post_office"),
    ]  # fmt: skip


def peer_output(line: str, key: str) -> float:
    found = re.search(rf"{key}=([\d.]+)", line)
    return float(found.group(1)) if found else math.nan


def run_peer(url: str, folder: Path, config: PeerConfig, workload: Workload) -> PeerResult:
    (folder / "body.txt").write_text(body_text())
    (folder / "body.html").write_text(body_html())
    with running_sink() as sink:
        command = peer_command(url, folder, sink.port, workload.emails, config)
        completed = subprocess.run(  # noqa: S603 - our own script
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=arrival_timeout(workload.emails) + 120,
            check=False,
        )
        if completed.returncode != 0:
            raise BenchmarkError(f"the peer failed:\n{completed.stdout}{completed.stderr}")
        span = await_span(sink, 0, workload.emails, ARRIVAL_GRACE)
    lines = completed.stdout.splitlines()
    queued = next((line for line in lines if line.startswith("queued")), "")
    sent = next((line for line in lines if line.startswith("sent")), "")
    return PeerResult("", config, span, peer_output(queued, "seconds"), sent.split(" ", 2)[-1])


# -- one database --------------------------------------------------------------------------


@contextmanager
def database_for(backend: str, folder: Path, postgres_url: str, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / name}.db"
        return
    with fresh_postgres_database(postgres_url) as url:
        yield url


@dataclass
class BackendResults:
    backend: str
    postroom: list[PostroomResult] = field(default_factory=list)
    peer: list[PeerResult] = field(default_factory=list)

    def best_postroom(self) -> PostroomResult:
        return max(self.postroom, key=lambda result: result.rate)

    def best_peer(self) -> PeerResult | None:
        return max(self.peer, key=lambda result: result.rate, default=None)

    def default_peer(self) -> PeerResult | None:
        return next((result for result in self.peer if result.config == PEER_DEFAULT), None)


def run_backend(backend: str, workload: Workload, postgres_url: str) -> BackendResults:
    results = BackendResults(backend)
    for config in workload.postroom:
        if not config.runs_on(backend):
            continue
        with ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="postroom-")))
            url = stack.enter_context(database_for(backend, folder, postgres_url, "postroom"))
            result = run_postroom(backend, url, folder, config, workload)
        results.postroom.append(result)
        for line in result.lines():
            say(line)
    for peer_config in workload.peer:
        with ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peer-")))
            url = stack.enter_context(database_for(backend, folder, postgres_url, "peer"))
            peer = run_peer(url, folder, peer_config, workload)
        peer.backend = backend
        results.peer.append(peer)
        say(peer.line())
    return results


def run_ceilings(workload: Workload) -> list[CeilingResult]:
    with tempfile.TemporaryDirectory(prefix="ceiling-") as tmp:
        message = Path(tmp) / "message.eml"
        message.write_bytes(ceiling_message())
        return [
            run_ceiling(workload.emails, sessions, message)
            for sessions in workload.ceiling_sessions
        ]


# -- the report ----------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def yes_no(met: bool) -> str:
    return "yes" if met else "**no**"


def facts(workload: Workload, postgres_url: str) -> list[tuple[str, str]]:
    return machine_facts(
        workload.backends,
        postgres_url,
        ("Emails per measurement", str(workload.emails)),
        ("Message", f"{len(ceiling_message())} bytes (2 KB text + HTML, one recipient)"),
    )


def throughput_table(results: list[BackendResults]) -> list[str]:
    lines = [
        "| database | Postroom emails/s | peer best emails/s | ratio | goal | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for backend in results:
        postroom, peer = backend.best_postroom(), backend.best_peer()
        if peer is None:
            lines.append(f"| {backend.backend} | {postroom.rate:.0f} | (not run) | | >= 3x | |")
            continue
        share = ratio(postroom.rate, peer.rate)
        lines.append(
            f"| {backend.backend} | {postroom.rate:.0f} | {peer.rate:.0f} | {share:.2f}x | "
            f">= {GOAL_PEER_RATIO:.0f}x | {yes_no(share >= GOAL_PEER_RATIO)} |"
        )
    return lines


def ceiling_table(results: list[BackendResults], ceiling: CeilingResult | None) -> list[str]:
    if ceiling is None:
        return ["(ceiling not measured)"]
    lines = [
        "| database | Postroom emails/s | ceiling messages/s | ratio | aim | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for backend in results:
        rate = backend.best_postroom().rate
        share = ratio(rate, ceiling.span.rate)
        lines.append(
            f"| {backend.backend} | {rate:.0f} | {ceiling.span.rate:.0f} "
            f"(smtp-source -s {ceiling.sessions} -d) | {share:.3f} | "
            f">= {AIM_CEILING_RATIO} | {yes_no(share >= AIM_CEILING_RATIO)} |"
        )
    return lines


def burst_table(results: list[BackendResults]) -> list[str]:
    lines = [
        "| database | SMTP connections | batch size | emails | due -> first arrival s | "
        "due -> last arrival s | goal s (N / rate + 1) | met? |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in (result for backend in results for result in backend.postroom):
        burst = result.burst
        lines.append(
            f"| {result.backend} | {result.config.connections} | {result.config.batch_size} | "
            f"{burst.emails} | {burst.first - result.burst_due:.2f} | "
            f"{result.burst_seconds:.2f} | {result.burst_goal_seconds:.2f} | "
            f"{yes_no(result.burst_seconds <= result.burst_goal_seconds)} |"
        )
    return lines


def postroom_table(results: list[BackendResults]) -> list[str]:
    lines = [
        "| database | workers | SMTP connections | batch size | emails/s | first -> last s | "
        "worker start -> last s | worker CPU | sink CPU | creating the emails s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend in results:
        for result in backend.postroom:
            lines.append(
                f"| {backend.backend} | {result.config.workers} | {result.config.connections} | "
                f"{result.config.batch_size} | {result.rate:.1f} | {result.span_seconds:.2f} | "
                f"{result.throughput.last - result.worker_started:.2f} | "
                f"{percent(result.worker_cpu_seconds, result.span_seconds)} | "
                f"{percent(result.sink_cpu_seconds, result.span_seconds)} | "
                f"{result.queued_seconds:.2f} |"
            )
    return lines


def peer_table(results: list[BackendResults]) -> list[str]:
    lines = [
        "| database | configuration | emails/s | first -> last s | statuses |",
        "|---|---|---:|---:|---|",
    ]
    for backend in results:
        for peer in backend.peer:
            default = " (default)" if peer.config == PEER_DEFAULT else ""
            lines.append(
                f"| {backend.backend} | {peer.config.label}{default} | {peer.rate:.1f} | "
                f"{peer.span.last - peer.span.first:.2f} | {peer.statuses} |"
            )
    return lines


def ceiling_runs_table(ceilings: list[CeilingResult]) -> list[str]:
    lines = ["| smtp-source sessions (-s, -d) | messages/s |", "|---:|---:|"]
    lines += [f"| {result.sessions} | {result.span.rate:.0f} |" for result in ceilings]
    return lines


def markdown(
    results: list[BackendResults], ceilings: list[CeilingResult], facts: list[tuple[str, str]]
) -> str:
    ceiling = max(ceilings, key=lambda result: result.span.rate, default=None)
    lines = [
        "# Delivery throughput and bursts",
        "",
        "Emails/s = (N - 1) / (last arrival - first arrival) at Postfix's smtp-sink on "
        "loopback. Produced by `bench/delivery.py`; see bench/README.md.",
        "",
        *busy_warning("Run it again on an idle machine before comparing."),
        "## Throughput against the peer (django-post_office, its best measured configuration)",
        "",
        *throughput_table(results),
        "",
        "## Throughput against the ceiling (smtp-source into the same sink)",
        "",
        *ceiling_table(results, ceiling),
        "",
        "## Burst: N scheduled emails due in the same second, worker running",
        "",
        *burst_table(results),
        "",
        "## Every Postroom run",
        "",
        *postroom_table(results),
        "",
        "## Every peer run",
        "",
        *peer_table(results),
        "",
        "## Every ceiling run",
        "",
        *ceiling_runs_table(ceilings),
        "",
        "| machine and run | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in facts],
    ]
    return "\n".join(lines) + "\n"


def problems(results: list[BackendResults], ceilings: list[CeilingResult]) -> list[str]:
    found: list[str] = []
    for backend in results:
        for result in backend.postroom:
            if result.lost_or_doubled:
                found.append(
                    f"postroom {backend.backend} {result.config.label}: sink counts "
                    f"{result.throughput.missing} + {result.burst.missing} missing, "
                    f"{result.throughput.extra} + {result.burst.extra} extra; "
                    f"database statuses {result.counts}"
                )
        for peer in backend.peer:
            if peer.span.missing or peer.span.extra:
                found.append(f"peer {backend.backend} {peer.config.key}: {peer.line()}")
    found += [result.line() for result in ceilings if result.span.missing or result.span.extra]
    return found


# -- command line --------------------------------------------------------------------------

DEFAULT_POSTROOM = "128:5000,256:5000,128:5000:2"
DEFAULT_PEER = "1:5:100:2,2:10:1000:0,2:10:5000:0"
DEFAULT_CEILING_SESSIONS = "1,4,16,64"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="200 emails, SQLite, in seconds")
    parser.add_argument("--emails", type=int, default=None, help="N (default 10000)")
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    parser.add_argument(
        "--postroom-configs",
        default=None,
        help="CONNECTIONS:BATCH_SIZE[:WORKERS],... (?connections=, POSTROOM_DISPATCH_BATCH_SIZE, "
        "worker processes: PostgreSQL only)",
    )
    parser.add_argument(
        "--peer-configs",
        default=None,
        help="PROCESSES:THREADS:BATCH_SIZE:LOG_LEVEL,... ('' skips the peer)",
    )
    parser.add_argument("--ceiling-sessions", default=None, help="smtp-source -s values")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the worker into DIR")
    return parser.parse_args(argv)


def listed(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def workload_from(arguments: argparse.Namespace) -> Workload:
    smoke = arguments.smoke
    backends = chosen_databases(arguments.databases, arguments.smoke)
    peer_default = (PEER_DEFAULT.key if peer_installed() else "") if smoke else DEFAULT_PEER
    peer = arguments.peer_configs if arguments.peer_configs is not None else peer_default
    postroom = arguments.postroom_configs or (
        DEFAULT_POSTROOM.split(",")[0] if smoke else DEFAULT_POSTROOM
    )
    if not listed(postroom):
        raise SystemExit("--postroom-configs needs at least one CONNECTIONS:BATCH_SIZE")
    sessions = arguments.ceiling_sessions or ("16" if smoke else DEFAULT_CEILING_SESSIONS)
    return Workload(
        emails=arguments.emails or (200 if smoke else 10_000),
        backends=backends,
        postroom=tuple(PostroomConfig.parse(item) for item in listed(postroom)),
        peer=tuple(PeerConfig.parse(item) for item in listed(peer)),
        ceiling_sessions=tuple(int(item) for item in listed(sessions)),
        profile_dir=arguments.profile,
    )


def run(workload: Workload, postgres_url: str) -> tuple[list[BackendResults], list[CeilingResult]]:
    for tool in (SMTP_SINK, SMTP_SOURCE):
        if not Path(tool).exists():
            raise BenchmarkError(f"{tool} is missing: apt-get install postfix")
    if workload.peer and not peer_installed():
        install_peer()
    if workload.profile_dir:
        workload.profile_dir.mkdir(parents=True, exist_ok=True)
    ceilings = run_ceilings(workload)
    results = [run_backend(backend, workload, postgres_url) for backend in workload.backends]
    return results, ceilings


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workload = workload_from(arguments)
    output = arguments.output or (None if arguments.smoke else RESULTS)
    try:
        results, ceilings = run(workload, arguments.postgres_url)
        report = markdown(results, ceilings, facts(workload, arguments.postgres_url))
    except (BenchmarkError, subprocess.SubprocessError, OSError) as error:
        say(f"benchmark failed: {error}")
        return 2
    publish(report, output)
    found = problems(results, ceilings)
    for problem in found:
        say(f"PROBLEM: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
