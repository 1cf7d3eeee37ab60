"""Several ``postroom worker`` processes, and a worker killed with SIGKILL, lose and repeat nothing.

Each scenario runs once per backend in a module fixture, and each test checks one promise
about its outcome:

- ``crowd``: three workers on PostgreSQL start, then 2,000 emails become due in one commit.
- ``kill``: 500 due emails, one worker, a slow SMTP server; once some messages arrived, the
  worker is SIGKILLed and a new one started, which must recover what the dead one held.
- ``pause``: one worker with a backlog in its lane is SIGSTOPped for longer than its lease;
  another worker's recovery releases what it had not started, and the worker, continued,
  claims those emails again itself: each must still reach the server once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from postroom.db import Database
from postroom.dispatch.recovery import recover_expired_claims
from postroom.kit.datetimes import utcnow
from postroom.models import EmailActivity
from tests.dispatch.conftest import empty_queue, eventually
from tests.dispatch.workers import (
    Claims,
    WorkerPool,
    claimers,
    claims_of_process,
    load_emails,
    queue_outbox_emails,
    running_workers,
    unfinished_count,
    worker_environment,
)
from tests.smtp_server import SmtpServer, smtp_server

pytestmark = pytest.mark.slow

KILL_LEASE_SECONDS = "2"
"""Short, so the restarted worker recovers the dead one's claims within seconds."""
CROWD_LEASE_SECONDS = "10"
"""Long enough that no live worker loses a lease on a busy machine."""
BATCH_SIZE = "100"
CROWD_WORKERS = 3
CROWD_EMAILS = 2000
KILL_EMAILS = 500
KILL_AFTER_RECEIVED = 150
STALL_SECONDS = 30.0
"""Longer than a lease plus a worker's start, on a busy machine."""
FIRST_MESSAGES_WITHIN = 300.0
UNEXPECTED = ("Traceback", "Task exception was never retrieved")


def is_delivery_unknown(email: EmailActivity) -> bool:
    attempts = email.send_attempts
    return (
        email.status == "error"
        and bool(attempts)
        and attempts[-1]["error_class"] == "DeliveryUnknown"
    )


def message_id(email: EmailActivity) -> str:
    return email.message_ids[0]


@dataclass(frozen=True)
class Outcome:
    """The queue after the workers settled it, and what the SMTP server received."""

    emails: dict[str, EmailActivity]
    arrivals: Counter[str]
    """Message-ID → how many times the SMTP server received it."""
    logs: str
    exit_codes: list[int]
    """Of the workers stopped with SIGTERM at the end."""

    def report(self, label: str, started: float) -> None:
        emails = self.emails.values()
        sent = sum(email.status == "sent" for email in emails)
        unknown = sum(is_delivery_unknown(email) for email in emails)
        repeated = sum(times > 1 for times in self.arrivals.values())
        print(  # noqa: T201
            f"\n{label}: {len(emails)} emails, {sent} sent, {unknown} DeliveryUnknown, "
            f"{repeated} Message-IDs received more than once, "
            f"{time.monotonic() - started:.1f} s"
        )


async def settle(database: Database, pool: WorkerPool, seen: set[str] | None = None) -> None:
    """Wait until no email is ``outbox`` and none is claimed; collect the claimers meanwhile.

    Fails when that number stops falling for ``STALL_SECONDS`` (an email held forever), not
    after a fixed time: a busy machine makes the workers slow, not wrong.
    """
    fewest, progressed_at = None, time.monotonic()
    while True:
        if seen is not None:
            seen.update(await claimers(database))
        left = await unfinished_count(database)
        if left == 0:
            return
        if fewest is None or left < fewest:
            fewest, progressed_at = left, time.monotonic()
        elif time.monotonic() - progressed_at > STALL_SECONDS:
            raise AssertionError(
                f"{left} emails still outbox or claimed, none finished for {STALL_SECONDS} s; "
                f"worker logs:\n{pool.logs()}"
            )
        await asyncio.sleep(0.25)


async def finish(database_url: str, pool: WorkerPool, smtp: SmtpServer) -> Outcome:
    """Stop the running workers with SIGTERM; collect the queue and the arrivals."""
    exit_codes = pool.stop_all()
    emails = await load_emails(database_url)
    arrivals = smtp.message_id_counts()
    return Outcome({email.id: email for email in emails}, arrivals, pool.logs(), exit_codes)


def environment_for(
    database_url: str, smtp: SmtpServer, folder: Path, lease_seconds: str
) -> dict[str, str]:
    return worker_environment(
        database_url, smtp.url, folder,
        dispatch_lease_seconds=lease_seconds, dispatch_batch_size=BATCH_SIZE,
    )  # fmt: skip


# -- three workers on PostgreSQL ---------------------------------------------------------------


@dataclass(frozen=True)
class CrowdRun:
    outcome: Outcome
    claimers: set[str]
    """Every worker seen holding an email during the run."""


@pytest.fixture(scope="module")
async def crowd_run(
    delivery_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> CrowdRun:
    if delivery_database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: several worker processes are a PostgreSQL setup")
    started = time.monotonic()
    folder = tmp_path_factory.mktemp("crowd")
    await empty_queue(delivery_database_url)
    seen: set[str] = set()
    database = Database(delivery_database_url)
    try:
        with smtp_server() as smtp:
            environment = environment_for(delivery_database_url, smtp, folder, CROWD_LEASE_SECONDS)
            with running_workers(environment, folder / "workers") as pool:
                for _ in range(CROWD_WORKERS):
                    pool.start()
                await queue_outbox_emails(delivery_database_url, folder, CROWD_EMAILS)
                await settle(database, pool, seen)
                outcome = await finish(delivery_database_url, pool, smtp)
    finally:
        await database.dispose()
    outcome.report(f"{CROWD_WORKERS} workers, PostgreSQL", started)
    return CrowdRun(outcome, seen)


def test_several_workers_all_take_part(crowd_run: CrowdRun) -> None:
    assert len(crowd_run.claimers) == CROWD_WORKERS


def test_several_workers_deliver_each_message_id_exactly_once(crowd_run: CrowdRun) -> None:
    emails = crowd_run.outcome.emails.values()
    assert len(emails) == CROWD_EMAILS
    assert crowd_run.outcome.arrivals == Counter({message_id(email): 1 for email in emails})


def test_several_workers_without_a_crash_leave_every_email_sent(crowd_run: CrowdRun) -> None:
    statuses = Counter(email.status for email in crowd_run.outcome.emails.values())
    assert statuses == Counter({"sent": CROWD_EMAILS}), crowd_run.outcome.logs[-5000:]


def test_several_workers_log_no_unexpected_error(crowd_run: CrowdRun) -> None:
    logs = crowd_run.outcome.logs
    assert not any(marker in logs for marker in UNEXPECTED), logs[-5000:]


def test_several_workers_stop_cleanly_on_sigterm(crowd_run: CrowdRun) -> None:
    assert crowd_run.outcome.exit_codes == [0] * CROWD_WORKERS


# -- a worker killed mid-batch and restarted ---------------------------------------------------


@dataclass(frozen=True)
class KillRun:
    outcome: Outcome
    at_kill: Claims
    """What the killed worker held when it died."""


async def kill_and_restart(pool: WorkerPool, database: Database, smtp: SmtpServer) -> Claims:
    """SIGKILL the worker once some messages arrived, at a moment it has an email in the sync
    gap; start a new one; return what it held."""
    victim = pool.workers[0]
    await eventually(arrived(smtp, KILL_AFTER_RECEIVED), within=FIRST_MESSAGES_WITHIN)
    await eventually(in_sync_gap(database, victim.pid), within=FIRST_MESSAGES_WITHIN)
    victim.kill()
    await asyncio.sleep(0.5)  # commits the victim sent before dying have reached the database
    claims = await claims_of_process(database, victim.pid)
    pool.start()
    await settle(database, pool)
    return claims


def in_sync_gap(database: Database, pid: int) -> Callable[[], Awaitable[bool]]:
    """A check for ``eventually``: worker ``pid`` holds an email whose data it handed over
    (the server answers DATA slowly, so the email is still there when the kill comes)."""

    async def check() -> bool:
        return bool((await claims_of_process(database, pid)).started)

    return check


def arrived(smtp: SmtpServer, count: int) -> Callable[[], Awaitable[bool]]:
    """A check for ``eventually``: the server received at least ``count`` messages."""

    async def check() -> bool:
        return len(smtp.messages()) >= count

    return check


@pytest.fixture(scope="module")
async def kill_run(delivery_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> KillRun:
    started = time.monotonic()
    folder = tmp_path_factory.mktemp("kill")
    await empty_queue(delivery_database_url)
    await queue_outbox_emails(delivery_database_url, folder, KILL_EMAILS)
    database = Database(delivery_database_url)
    try:
        with smtp_server() as smtp:
            smtp.behaviour.delay = 0.05
            environment = environment_for(delivery_database_url, smtp, folder, KILL_LEASE_SECONDS)
            with running_workers(environment, folder / "workers") as pool:
                pool.start()
                at_kill = await kill_and_restart(pool, database, smtp)
                outcome = await finish(delivery_database_url, pool, smtp)
    finally:
        await database.dispose()
    backend = "SQLite" if delivery_database_url.startswith("sqlite") else "PostgreSQL"
    outcome.report(f"kill test, {backend}", started)
    print(  # noqa: T201
        f"at the kill: {len(at_kill.unstarted)} claimed and unstarted, "
        f"{len(at_kill.started)} in the sync gap"
    )
    return KillRun(outcome, at_kill)


def test_after_a_kill_every_email_ends_sent_or_delivery_unknown(kill_run: KillRun) -> None:
    emails = kill_run.outcome.emails.values()
    assert len(emails) == KILL_EMAILS
    others = [
        (email.id, email.status, email.send_attempts)
        for email in emails
        if email.status != "sent" and not is_delivery_unknown(email)
    ]
    assert others == []


def test_after_a_kill_no_email_stays_claimed(kill_run: KillRun) -> None:
    emails = kill_run.outcome.emails.values()
    assert [email.id for email in emails if email.claimed_by is not None] == []


def test_after_a_kill_a_message_id_arrives_twice_only_when_delivery_unknown(
    kill_run: KillRun,
) -> None:
    by_message_id = {message_id(email): email for email in kill_run.outcome.emails.values()}
    repeated = [mid for mid, times in kill_run.outcome.arrivals.items() if times > 1]
    assert [mid for mid in repeated if not is_delivery_unknown(by_message_id[mid])] == []


def test_after_a_kill_every_sent_email_arrived_exactly_once(kill_run: KillRun) -> None:
    sent = [email for email in kill_run.outcome.emails.values() if email.status == "sent"]
    assert sent
    arrivals = kill_run.outcome.arrivals
    assert {message_id(email): arrivals[message_id(email)] for email in sent} == {
        message_id(email): 1 for email in sent
    }


def test_after_a_kill_nothing_arrives_that_was_not_queued(kill_run: KillRun) -> None:
    queued = {message_id(email) for email in kill_run.outcome.emails.values()}
    assert set(kill_run.outcome.arrivals) - queued == set()


def test_claims_of_a_killed_worker_without_data_sent_are_sent_again(kill_run: KillRun) -> None:
    unstarted = kill_run.at_kill.unstarted
    assert unstarted, "the kill found no claimed, unstarted email"
    emails = kill_run.outcome.emails
    assert Counter(emails[email_id].status for email_id in unstarted) == Counter(
        {"sent": len(unstarted)}
    )


def test_claims_of_a_killed_worker_in_the_sync_gap_are_marked_delivery_unknown(
    kill_run: KillRun,
) -> None:
    in_gap = kill_run.at_kill.started
    assert in_gap, "the kill found no email in the sync gap"
    emails = kill_run.outcome.emails
    assert [email_id for email_id in in_gap if not is_delivery_unknown(emails[email_id])] == []


def test_a_restarted_worker_stops_cleanly_on_sigterm(kill_run: KillRun) -> None:
    assert kill_run.outcome.exit_codes == [0]


# -- a worker paused for longer than its lease -------------------------------------------------

PAUSE_EMAILS = 20
PAUSE_LEASE_SECONDS = 2.0
PAUSE_SECONDS = 1.5 * PAUSE_LEASE_SECONDS


@dataclass(frozen=True)
class PauseRun:
    outcome: Outcome
    at_pause: Claims
    released: int


async def pause_and_recover(pool: WorkerPool, database: Database, smtp: SmtpServer) -> Claims:
    """SIGSTOP the worker once its first messages arrived, with emails still in its lane;
    recover its expired claims as another worker would; SIGCONT it; return what it held."""
    worker = pool.workers[0]
    await eventually(arrived(smtp, 2), within=FIRST_MESSAGES_WITHIN)
    worker.process.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(PAUSE_SECONDS)
        claims = await claims_of_process(database, worker.pid)
        await recover_expired_claims(database, utcnow())
    finally:
        worker.process.send_signal(signal.SIGCONT)
    await settle(database, pool)
    return claims


@pytest.fixture(scope="module")
async def pause_run(
    delivery_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> PauseRun:
    if delivery_database_url.startswith("sqlite"):
        pytest.skip(
            "SQLite has one writer: a worker stopped inside its transaction holds the write "
            "lock, so no other process can recover its claims until it runs again (the race "
            "itself is covered on SQLite in process by test_lost_claims)"
        )
    started = time.monotonic()
    folder = tmp_path_factory.mktemp("pause")
    await empty_queue(delivery_database_url)
    await queue_outbox_emails(delivery_database_url, folder, PAUSE_EMAILS)
    database = Database(delivery_database_url)
    try:
        with smtp_server() as smtp:
            smtp.behaviour.delay = 0.2
            environment = worker_environment(
                delivery_database_url, f"{smtp.url}&connections=1", folder,
                dispatch_lease_seconds=str(PAUSE_LEASE_SECONDS),
            )  # fmt: skip
            with running_workers(environment, folder / "workers") as pool:
                pool.start()
                at_pause = await pause_and_recover(pool, database, smtp)
                outcome = await finish(delivery_database_url, pool, smtp)
    finally:
        await database.dispose()
    outcome.report("pause test", started)
    return PauseRun(outcome, at_pause, len(at_pause.unstarted))


def test_a_paused_worker_had_emails_waiting_in_its_lane(pause_run: PauseRun) -> None:
    assert pause_run.released, "the pause found no claimed, unstarted email"


def test_emails_a_paused_worker_claims_again_arrive_once(pause_run: PauseRun) -> None:
    arrivals = pause_run.outcome.arrivals
    assert [mid for mid, times in arrivals.items() if times > 1] == []


def test_emails_a_paused_worker_claims_again_are_sent(pause_run: PauseRun) -> None:
    emails = pause_run.outcome.emails
    unstarted = pause_run.at_pause.unstarted
    assert {emails[email_id].status for email_id in unstarted} == {"sent"}
    others = [email.id for email in emails.values() if email.id not in unstarted]
    assert [email_id for email_id in others if not finished(emails[email_id])] == []


def test_a_paused_worker_leaves_nothing_claimed_and_stops_cleanly(pause_run: PauseRun) -> None:
    assert [e.id for e in pause_run.outcome.emails.values() if e.claimed_by is not None] == []
    assert pause_run.outcome.exit_codes == [0]


def finished(email: EmailActivity) -> bool:
    return email.status == "sent" or is_delivery_unknown(email)
