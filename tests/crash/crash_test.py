"""Crash test: SIGKILL a real ``postroom serve`` again and again while emails are created.

``make crash-test`` runs it with 20 kills; ``tests/crash/test_crash_short.py`` runs a short
form. Usage::

    python -m tests.crash.crash_test [--kills 20] [--database sqlite|postgres] [--seed N]
        [--workers N] [--cancel-share S] [--temporary-share S] [--drop-share S]
        [--terminate-every SECONDS]

A real server (``POSTROOM_DISPATCH_LEASE_SECONDS=2``) sends to a real SMTP server running in
this process (aiosmtpd in a thread, which records every Message-ID it received). Threads
create ``outbox`` emails (``send_in`` 0 to 3) and ``scheduled`` ones (due in 0 to 3 s)
through the API without pause; meanwhile the server is SIGKILLed at random moments, now and
then during its startup, and started again. Then creating stops, the queue drains, the
server gets SIGTERM, and the database (read directly) must show that:

1. every email whose create got a 2xx exists;
2. every email ends ``sent`` or ``error`` with a last attempt of class ``DeliveryUnknown``;
3. no Message-ID reached the SMTP server twice unless its email is ``DeliveryUnknown``
   (and every ``sent`` email reached it exactly once, and nothing else did);
4. no email is left claimed (and, on SQLite, ``PRAGMA integrity_check`` is ``ok``).

Options make it harsher: ``--workers N`` runs N ``postroom worker`` processes next to the
server, SIGKILLed and restarted at random too; ``--cancel-share`` cancels that share of the
``outbox`` emails (PUT ``draft``) within their ``send_in``, racing the claim, and then

5. no email whose cancel got a 200 reached the SMTP server, and it is still ``draft`` (a
   cancel sleeps up to ``send_in`` + 0.2 s, so it may come after the email was sent: a
   ``sent`` one answers 400, a ``DeliveryUnknown`` one 200, ``error`` → ``draft``, with that
   attempt in the body; such a 200 is no cancel and is only counted);

``--temporary-share`` has the SMTP server answer that share of recipients 451 (retried after
1 s); ``--drop-share`` has it take that share of messages whole and hang up without a reply (the
sync gap: such emails must end ``DeliveryUnknown`` and reach the server once);
``--terminate-every`` (PostgreSQL) terminates every connection to the database that often;
``--pause-share`` SIGSTOPs that share of the chosen workers instead of killing them, for longer
than the lease (the others take them for dead), and then SIGCONTs them.
A Message-ID reaching the server twice is a violation in every case.

The counts are printed; the exit code is 1 when a property fails. The working folder (the
database, ``server.log``) is kept when it does, or with ``--keep``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from postroom.db import sync_url
from postroom.models import EmailActivity
from tests.databases import migrated_database
from tests.live import (
    HOST,
    create_user_and_key,
    free_port,
    port_answers,
    postroom_command,
    server_environment,
)
from tests.smtp_server import SmtpServer, smtp_server

LEASE_SECONDS = "2"
CREATORS = 4
STARTUP_KILL_SHARE = 0.2
"""Share of the kills aimed at the server's startup (schema check, recovery) instead."""
CREATES_BEFORE_KILL = 5
"""Acknowledged creates a restarted server must have answered before it is killed again."""
REQUEST_TIMEOUT = 15.0
DOWN_PAUSE = 0.1
"""Seconds a creator waits after a refused connection (the server is restarting)."""
START_TIMEOUT = 120.0
"""Generous: on a loaded machine importing the app alone can take 10 s and more."""
STOP_TIMEOUT = 20.0
SMTP_DELAY = 0.01
"""Seconds the SMTP server takes to answer DATA: widens the sync gap the kills can hit."""
SENDER = "crash@sender.example.com"
UNEXPECTED_ERROR = "unexpected error in request"
"""What ``errors.handle_unexpected`` logs before it answers 500."""


@dataclass(frozen=True)
class Options:
    kills: int
    database: str
    seed: int
    uptime: tuple[float, float]
    drain_timeout: float
    keep: bool
    workers: int = 0
    cancel_share: float = 0.0
    temporary_share: float = 0.0
    drop_share: float = 0.0
    terminate_every: float = 0.0
    pause_share: float = 0.0
    smtp_delay: float = SMTP_DELAY
    batch_size: int = 200


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description="SIGKILL a real server while emails are created.")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the server")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--min-uptime", type=float, default=0.5, help="seconds before a kill")
    parser.add_argument("--max-uptime", type=float, default=3.0, help="seconds before a kill")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--workers", type=int, default=0, help="postroom worker processes")
    parser.add_argument("--cancel-share", type=float, default=0.0)
    parser.add_argument("--temporary-share", type=float, default=0.0)
    parser.add_argument("--drop-share", type=float, default=0.0)
    parser.add_argument("--terminate-every", type=float, default=0.0)
    parser.add_argument("--pause-share", type=float, default=0.0)
    parser.add_argument("--smtp-delay", type=float, default=SMTP_DELAY, help="seconds to DATA")
    parser.add_argument("--batch-size", type=int, default=200, help="emails a worker holds")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    uptime = (args.min_uptime, args.max_uptime)
    return Options(
        args.kills, args.database, seed, uptime, args.drain_timeout, args.keep, args.workers,
        args.cancel_share, args.temporary_share, args.drop_share, args.terminate_every,
        args.pause_share, args.smtp_delay, args.batch_size,
    )  # fmt: skip


# -- the server, killed and restarted ----------------------------------------------------------


class ServerDown(Exception):
    """The server exited or hung while starting (e.g. it refused the crashed database)."""


class CrashServer:
    """``postroom serve`` on a fixed port (or, given ``command``, another ``postroom``
    command), started again after each kill; one log for all."""

    def __init__(
        self,
        environment: Mapping[str, str],
        folder: Path,
        port: int,
        command: Sequence[str] = (),
        log_name: str = "server.log",
    ) -> None:
        self.environment = dict(environment)
        self.folder = folder
        self.port = port
        self.command = list(command) or ["serve", "--host", HOST, "--port", str(port)]
        self.log_path = folder / log_name
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.restart_on_exit = False
        """Start again when the process exits while starting (its database connection was
        terminated on purpose), as a supervisor would, instead of raising ``ServerDown``."""
        self.failed_starts = 0
        self.pauses = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                postroom_command(*self.command),
                env=self.environment,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError("the server was never started")
        return self.process

    def wait_until_listening(self) -> None:
        """Return once the port answers; raise ``ServerDown`` if the server exits or hangs."""
        deadline = time.monotonic() + START_TIMEOUT
        while not port_answers(self.port):
            if self.running().poll() is not None and self.restart_on_exit:
                self.failed_starts += 1
                self.start()
            elif self.running().poll() is not None or time.monotonic() > deadline:
                raise ServerDown(
                    f"start {self.starts} of postroom serve did not listen within "
                    f"{START_TIMEOUT} s (exit code {self.running().poll()}); "
                    f"end of {self.log_path}:\n{self.log()[-3000:]}"
                )
            time.sleep(0.05)

    def revive(self) -> None:
        """Start again if the process exited by itself (a start refused by a terminated
        connection), when ``restart_on_exit``."""
        if self.restart_on_exit and self.running().poll() is not None:
            self.failed_starts += 1
            self.start()

    def pause(self, seconds: float) -> None:
        """SIGSTOP the current process for ``seconds``, then SIGCONT it."""
        process = self.running()
        if process.poll() is None:
            process.send_signal(signal.SIGSTOP)
            time.sleep(seconds)
            process.send_signal(signal.SIGCONT)
        self.pauses += 1

    def kill(self) -> None:
        """SIGKILL the current process (noted in the log with the time, for post-mortems)."""
        process = self.running()
        if process.poll() is None:
            process.kill()
            with self.log_path.open("a") as log:
                log.write(f"--- SIGKILL at {datetime.now(UTC).isoformat()}\n")
        process.wait()

    def stop(self) -> int:
        """SIGTERM (a graceful stop); SIGKILL after ``STOP_TIMEOUT``. Returns the exit code."""
        process = self.running()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def started(server: CrashServer) -> Iterator[CrashServer]:
    """The server running for the block; whatever process is current is killed at the end."""
    server.start()
    try:
        yield server
    finally:
        server.kill()


def kill_repeatedly(
    server: CrashServer, ledger: Ledger, options: Options, rng: random.Random
) -> int:
    """SIGKILL and restart the server ``options.kills`` times; return the startup kills.

    Most kills land ``options.uptime`` seconds after the server acknowledged a few creates
    (so it is busy sending, however slow the machine); the others during its startup.
    """
    during_startup = 0
    for _ in range(options.kills):
        if rng.random() < STARTUP_KILL_SHARE:
            during_startup += 1
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            server.wait_until_listening()
            ledger.wait_for_more(CREATES_BEFORE_KILL, server)
            time.sleep(rng.uniform(*options.uptime))
        server.kill()
        server.start()
    server.wait_until_listening()
    return during_startup


def kill_workers_repeatedly(
    workers: Sequence[CrashServer], stop: threading.Event, options: Options, seed: int
) -> None:
    """SIGKILL a random worker every ``options.uptime`` seconds and start it again (or pause
    it, ``options.pause_share`` of the time)."""
    rng = random.Random(seed)  # noqa: S311 - kill timings, not secrets
    while not stop.wait(rng.uniform(*options.uptime)):
        for worker in workers:
            worker.revive()
        victim = rng.choice(workers)
        if rng.random() < options.pause_share:
            victim.pause(float(LEASE_SECONDS) * rng.uniform(1.2, 2.0))
            continue
        victim.kill()
        victim.start()


@contextmanager
def killing_workers(workers: Sequence[CrashServer], options: Options, seed: int) -> Iterator[None]:
    """The workers SIGKILLed at random and started again while the block runs."""
    stop = threading.Event()
    thread = threading.Thread(target=kill_workers_repeatedly, args=(workers, stop, options, seed))
    if workers:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if workers:
            thread.join()


def terminate_backends(url: str, stop: threading.Event, every: float) -> None:
    """``pg_terminate_backend`` on every other connection to the database, every ``every`` s."""
    engine = create_sync_engine(sync_url(url))
    statement = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    try:
        while not stop.wait(every):
            with engine.begin() as connection:
                connection.execute(statement)
    finally:
        engine.dispose()


@contextmanager
def terminating(url: str, every: float) -> Iterator[None]:
    """On PostgreSQL with ``every`` > 0: its connections terminated that often in the block."""
    if every <= 0 or url.startswith("sqlite"):
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=terminate_backends, args=(url, stop, every))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- the clients -------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the creators were told: acknowledged emails and every other kind of answer."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    """Email id → Message-ID, for every create answered with a 2xx."""
    refused: int = 0
    """Requests whose connection was refused (the server was down): nothing was created."""
    unanswered: int = 0
    """Requests sent without an answer (killed mid-request): the email may exist or not."""
    other_statuses: Counter[int] = field(default_factory=Counter)
    cancel_tried: set[str] = field(default_factory=set)
    """Emails a cancel (PUT ``draft``) was sent for, whatever the answer."""
    cancelled: set[str] = field(default_factory=set)
    """Emails whose cancel was answered 200: they must never be sent."""
    reset_after_failure: set[str] = field(default_factory=set)
    """Emails whose "cancel" came after they had failed: a 200 whose body already holds the
    ``DeliveryUnknown`` attempt (only a send appends one) moved them ``error`` → ``draft``,
    which the API allows; they were not cancelled, and reached the server at most once."""
    cancel_statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, response: httpx.Response) -> None:
        with self.lock:
            if response.is_success:
                email = response.json()
                self.acknowledged[email["id"]] = email["message_ids"][0]
            else:
                self.other_statuses[response.status_code] += 1

    def cancel_answered(self, email_id: str, response: httpx.Response) -> None:
        with self.lock:
            self.cancel_statuses[response.status_code] += 1
            if response.status_code != 200:
                return
            if failed_already(response.json()):
                self.reset_after_failure.add(email_id)
            else:
                self.cancelled.add(email_id)

    def wait_for_more(self, count: int, server: CrashServer) -> None:
        """Wait until ``count`` more creates were acknowledged (or the server died)."""
        target = len(self.acknowledged) + count
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.acknowledged) < target and time.monotonic() < deadline:
            if server.running().poll() is not None:
                return
            time.sleep(0.02)

    def failed(self, error: httpx.TransportError) -> None:
        with self.lock:
            if isinstance(error, httpx.ConnectError):
                self.refused += 1
            else:
                self.unanswered += 1


def failed_already(email: Mapping[str, Any]) -> bool:
    attempts = email.get("send_attempts") or []
    return bool(attempts) and attempts[-1].get("error_class") == "DeliveryUnknown"


def email_body(lead_id: str, rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lead_id": lead_id,
        "sender": SENDER,
        "to": [f"r{rng.randrange(10**6)}@buyer.example.com"],
        "subject": "Crash test",
        "body_text": "Hello " * rng.randrange(1, 200),
    }
    if rng.random() < 0.2:
        due = datetime.now(UTC) + timedelta(seconds=rng.uniform(0.0, 3.0))
        return body | {"status": "scheduled", "date_scheduled": due.isoformat()}
    return body | {"status": "outbox", "send_in": rng.randrange(0, 4)}


@dataclass(frozen=True)
class Api:
    port: int
    api_key: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://{HOST}:{self.port}/api/v1/",
            auth=(self.api_key, ""),
            timeout=REQUEST_TIMEOUT,
            trust_env=False,
        )


def create_continuously(
    api: Api, lead_id: str, ledger: Ledger, stop: threading.Event, seed: int, cancel_share: float
) -> None:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    with api.client() as client:
        while not stop.is_set():
            body = email_body(lead_id, rng)
            try:
                response = client.post("activity/email/", json=body)
            except httpx.TransportError as error:
                ledger.failed(error)
                stop.wait(DOWN_PAUSE)
                continue
            ledger.answered(response)
            if response.is_success and body.get("send_in") and rng.random() < cancel_share:
                time.sleep(rng.uniform(0.0, body["send_in"] + 0.2))  # may race the claim
                cancel(client, response.json()["id"], ledger)


def cancel(client: httpx.Client, email_id: str, ledger: Ledger) -> None:
    """PUT ``draft``; a 400 (already being sent) or no answer (killed) is allowed."""
    with ledger.lock:
        ledger.cancel_tried.add(email_id)
    try:
        response = client.put(f"activity/email/{email_id}/", json={"status": "draft"})
    except httpx.TransportError:
        return
    ledger.cancel_answered(email_id, response)


@contextmanager
def creating(
    api: Api, lead_id: str, ledger: Ledger, seed: int, cancel_share: float = 0.0
) -> Iterator[None]:
    """``CREATORS`` threads (one client each) creating emails until the block ends."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=create_continuously,
            args=(api, lead_id, ledger, stop, seed + number, cancel_share),
        )
        for number in range(CREATORS)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def create_lead(api: Api) -> str:
    with api.client() as client:
        response = client.post("lead/", json={"name": "Crash Test Corp"})
    response.raise_for_status()
    lead_id: str = response.json()["id"]
    return lead_id


# -- the database, read directly ---------------------------------------------------------------


def unfinished_count(engine: Engine) -> int:
    """Emails still queued (``outbox``, ``scheduled``) or claimed by some dispatcher."""
    queued = EmailActivity.status.in_(("outbox", "scheduled"))
    statement = select(func.count()).where(or_(queued, EmailActivity.claimed_by.is_not(None)))
    with Session(engine) as session:
        return session.execute(statement).scalar_one()


def drain(engine: Engine, server: CrashServer, timeout: float) -> bool:
    """Wait until nothing is queued or claimed; False on timeout or if the server died."""
    deadline = time.monotonic() + timeout
    while unfinished_count(engine) > 0:
        if time.monotonic() > deadline or server.running().poll() is not None:
            return False
        time.sleep(0.25)
    return True


def load_emails(engine: Engine) -> dict[str, EmailActivity]:
    with Session(engine) as session:
        emails = session.execute(select(EmailActivity)).scalars().all()
        session.expunge_all()
    return {email.id: email for email in emails}


def integrity(engine: Engine) -> str:
    """``PRAGMA integrity_check`` on SQLite (first line); ``n/a`` on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return "n/a"
    with engine.connect() as connection:
        rows = connection.execute(text("PRAGMA integrity_check")).scalars().all()
    return "; ".join(str(row) for row in rows[:5])


# -- the verdict -------------------------------------------------------------------------------


def is_delivery_unknown(email: EmailActivity) -> bool:
    attempts = email.send_attempts
    return (
        email.status == "error"
        and bool(attempts)
        and (attempts[-1].get("error_class") == "DeliveryUnknown")
    )


def finished(email: EmailActivity) -> bool:
    return email.status == "sent" or is_delivery_unknown(email)


def describe(email: EmailActivity | None) -> object:
    """The columns that tell what happened to an email, for a violation's message."""
    if email is None:
        return None
    last = email.send_attempts[-1:]
    return (email.id, email.status, email.claimed_by, email.send_started_at, last)


@dataclass
class Outcome:
    options: Options
    ledger: Ledger
    emails: dict[str, EmailActivity]
    arrivals: Counter[str]
    kills_during_startup: int
    drained: bool
    integrity: str
    stop_code: int
    tracebacks: int
    seconds: float
    worker_kills: int = 0
    worker_pauses: int = 0
    worker_stop_codes: list[int] = field(default_factory=list)
    failed_starts: int = 0
    unexpected_errors: int = 0
    """Requests the server logged as an unexpected error: 500s that are bugs (the other 500s
    say that a connection was lost under the ``COMMIT``)."""

    def violations(self) -> list[str]:
        """One line per broken property: how many offenders, and the first few of them."""
        checks = {
            "acknowledged emails are missing": self.missing(),
            "emails are neither sent nor DeliveryUnknown": self.unfinished(),
            "Message-IDs were received twice but are not DeliveryUnknown": self.repeated(),
            "sent emails were not received exactly once": self.sent_not_once(),
            "received Message-IDs belong to no email": self.strangers(),
            "emails are still claimed": self.claimed(),
            "emails cancelled with a 200 were sent or are no longer draft": self.cancel_broken(),
        }
        found = [f"{len(rows)} {label}: {rows[:10]}" for label, rows in checks.items() if rows]
        if not self.drained:
            found.append(f"the queue did not drain within {self.options.drain_timeout} s")
        if self.integrity not in ("ok", "n/a"):
            found.append(f"PRAGMA integrity_check: {self.integrity}")
        if any(code not in (0, -signal.SIGTERM) for code in self.worker_stop_codes):
            # -SIGTERM: stopped while still starting, before its handler was installed
            found.append(f"workers exited with {self.worker_stop_codes} after SIGTERM")
        return found

    def by_message_id(self) -> dict[str, EmailActivity]:
        return {email.message_ids[0]: email for email in self.emails.values()}

    def missing(self) -> Sequence[object]:
        return sorted(set(self.ledger.acknowledged) - set(self.emails))

    def unfinished(self) -> Sequence[object]:
        """Neither sent nor ``DeliveryUnknown``, nor a draft someone tried to cancel."""
        tried = self.ledger.cancel_tried
        return [
            describe(email)
            for email in self.emails.values()
            if not finished(email) and not (email.status == "draft" and email.id in tried)
        ]

    def repeated(self) -> Sequence[object]:
        """Even a ``DeliveryUnknown`` email reaches the server at most once: it is never sent
        again automatically."""
        emails = self.by_message_id()
        return [
            (message_id, times, describe(emails.get(message_id)))
            for message_id, times in self.arrivals.items()
            if times > 1
        ]

    def cancel_broken(self) -> Sequence[object]:
        cancelled = [self.emails.get(email_id) for email_id in sorted(self.ledger.cancelled)]
        return [
            describe(email) if email else None
            for email in cancelled
            if email is None or email.status != "draft" or self.arrivals[email.message_ids[0]]
        ]

    def sent_not_once(self) -> Sequence[object]:
        sent = [email for email in self.emails.values() if email.status == "sent"]
        counts = [(email.id, self.arrivals[email.message_ids[0]]) for email in sent]
        return [(email_id, times) for email_id, times in counts if times != 1]

    def strangers(self) -> Sequence[object]:
        return sorted(set(self.arrivals) - set(self.by_message_id()))

    def claimed(self) -> Sequence[object]:
        return [describe(email) for email in self.emails.values() if email.claimed_by]

    def report(self) -> str:
        emails = self.emails.values()
        statuses = Counter(email.status for email in emails)
        unknown = sum(is_delivery_unknown(email) for email in emails)
        repeated = sum(times > 1 for times in self.arrivals.values())
        unanswered_found = len(set(self.emails) - set(self.ledger.acknowledged))
        backend = "SQLite" if self.options.database == "sqlite" else "PostgreSQL"
        lines = [
            f"crash test on {backend}, seed {self.options.seed}: {self.seconds:.1f} s",
            f"  kills (SIGKILL)                    {self.options.kills}"
            f" ({self.kills_during_startup} during startup)",
            f"  created (2xx)                      {len(self.ledger.acknowledged)}",
            f"  requests killed before an answer   {self.ledger.unanswered}"
            f" ({unanswered_found} emails of those exist)",
            f"  connections refused (server down)  {self.ledger.refused}",
            f"  other answers                      {dict(self.ledger.other_statuses)}",
            f"  emails in the database             {len(self.emails)} {dict(statuses)}",
            f"  sent                               {statuses['sent']}",
            f"  DeliveryUnknown                    {unknown}",
            f"  messages received by SMTP          {self.arrivals.total()}",
            f"  Message-IDs received twice or more {repeated}",
            f"  still claimed                      "
            f"{sum(email.claimed_by is not None for email in emails)}",
            f"  integrity_check                    {self.integrity}",
            f"  cancels tried / answered           {len(self.ledger.cancel_tried)}"
            f" {dict(self.ledger.cancel_statuses)}"
            f" ({len(self.ledger.reset_after_failure)} came after a DeliveryUnknown)",
            f"  workers paused (SIGSTOP > lease)   {self.worker_pauses}",
            f"  workers killed (SIGKILL)           {self.worker_kills}"
            f" (exit codes after SIGTERM {self.worker_stop_codes})",
            f"  starts refused (terminated conn.)  {self.failed_starts}",
            f"  exit code after SIGTERM            {self.stop_code}",
            f"  tracebacks in the server log       {self.tracebacks}",
            f"  unexpected errors (500s, bugs)     {self.unexpected_errors}",
        ]
        return "\n".join(lines)


# -- the run -----------------------------------------------------------------------------------


def crash_environment(url: str, smtp: SmtpServer, folder: Path, port: int) -> dict[str, str]:
    return server_environment(url, folder, port) | {
        "POSTROOM_SMTP_URL": smtp.url,
        "POSTROOM_DISPATCH_LEASE_SECONDS": LEASE_SECONDS,
        "POSTROOM_SECRET_KEY": "crash-test-secret",
        "POSTROOM_RETRY_FIRST_DELAY_SECONDS": "1",
        "POSTROOM_RETRY_MAX_DELAY_SECONDS": "2",
    }


def worker_processes(environment: Mapping[str, str], folder: Path, count: int) -> list[CrashServer]:
    return [
        CrashServer(environment, folder, 0, ["worker"], f"worker-{number}.log")
        for number in range(count)
    ]


def run(options: Options, folder: Path) -> Outcome:
    rng = random.Random(options.seed)  # noqa: S311 - kill timings, not secrets
    started_at = time.monotonic()
    with migrated_database(options.database, folder) as url, smtp_server() as smtp:
        smtp.behaviour.delay = options.smtp_delay
        smtp.behaviour.temporary_share = options.temporary_share
        smtp.behaviour.drop_share = options.drop_share
        port = free_port()
        environment = crash_environment(url, smtp, folder, port) | {
            "POSTROOM_DISPATCH_BATCH_SIZE": str(options.batch_size)
        }
        _email, _organization, api_key = create_user_and_key(environment, folder)
        api = Api(port, api_key)
        engine = create_sync_engine(sync_url(url))
        server = CrashServer(environment, folder, port)
        workers = worker_processes(environment, folder, options.workers)
        for process in (server, *workers):
            process.restart_on_exit = options.terminate_every > 0
        ledger = Ledger()
        try:
            with started(server), ExitStack() as stack:
                for worker in workers:
                    stack.enter_context(started(worker))
                server.wait_until_listening()
                lead_id = create_lead(api)
                with (
                    creating(api, lead_id, ledger, options.seed, options.cancel_share),
                    killing_workers(workers, options, options.seed + CREATORS),
                    terminating(url, options.terminate_every),
                ):
                    during_startup = kill_repeatedly(server, ledger, options, rng)
                for worker in workers:
                    worker.revive()
                drained = drain(engine, server, options.drain_timeout)
                worker_codes = [worker.stop() for worker in workers]
                stop_code = server.stop()
            logs = server.log() + "".join(worker.log() for worker in workers)
            return Outcome(
                options, ledger, load_emails(engine), smtp.message_id_counts(), during_startup,
                drained, integrity(engine), stop_code, logs.count("Traceback"),
                time.monotonic() - started_at, sum(worker.starts - 1 for worker in workers),
                sum(worker.pauses for worker in workers),
                worker_codes, sum(p.failed_starts for p in (server, *workers)),
                logs.count(UNEXPECTED_ERROR),
            )  # fmt: skip
        finally:
            engine.dispose()


def run_and_report(options: Options, folder: Path) -> list[str]:
    """Run the test, print the counts; return the violations."""
    try:
        outcome = run(options, folder)
    except ServerDown as error:
        return [str(error)]
    print(outcome.report())  # noqa: T201
    return outcome.violations()


def main(argv: list[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    folder = Path(tempfile.mkdtemp(prefix="postroom-crash-"))
    failed = True
    try:
        violations = run_and_report(options, folder)
        failed = bool(violations)
        for violation in violations:
            print(f"VIOLATION: {violation}")  # noqa: T201
        print("FAILED" if failed else "OK: every property holds")  # noqa: T201
    finally:
        if failed or options.keep:
            print(f"working folder kept: {folder}")  # noqa: T201
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
