"""``postroom worker`` processes for multi-process delivery tests, and a queue to feed them.

``running_workers(environment, folder)`` yields a ``WorkerPool``: ``start()`` launches a worker
(``python -m postroom.cli worker``) with its output in its own log file in ``folder``; a
worker is stopped with SIGTERM (graceful) or SIGKILL (a crash), and every worker still running
when the block ends is stopped and reaped. ``queue_outbox_emails`` inserts many due emails at
once through the service layer of an in-process app that has no dispatcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from postroom.app import create_app
from postroom.config import Settings
from postroom.db import Database
from postroom.emails import service as email_service
from postroom.emails.schemas import EmailActivityCreate
from postroom.models import EmailActivity
from postroom.users.auth import Caller
from tests.conftest import create_tenant
from tests.helpers import create_lead

STOP_TIMEOUT = 20.0
SENDER = '"Jane Sender" <jane@sender.example.com>'
RECIPIENT = "Bob Buyer <bob@buyer.example.com>"


def worker_environment(
    database_url: str, smtp_url: str, folder: Path, **settings: str
) -> dict[str, str]:
    """The caller's environment without its POSTROOM_ settings, plus the worker's own.

    ``settings`` are extra POSTROOM_ variables, named without the prefix
    (``dispatch_lease_seconds="2"``).
    """
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith("POSTROOM_")
    }
    values = {
        "database_url": database_url,
        "smtp_url": smtp_url,
        "data_dir": str(folder / "data"),
        "secret_key": "test-secret",
        "public_url": "http://testserver",
        "log_level": "WARNING",
        **settings,
    }
    return {**inherited, **{f"POSTROOM_{name.upper()}": value for name, value in values.items()}}


@dataclass
class Worker:
    """One ``postroom worker`` process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker dies at once, in whatever it was doing."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def terminate(self) -> None:
        """SIGTERM, once: finish in-flight sends, release the rest, exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        """The exit code; SIGKILL if the worker is still there after ``STOP_TIMEOUT``."""
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait()


@dataclass
class WorkerPool:
    """Starts workers with one environment; remembers them all so none outlives the test."""

    environment: Mapping[str, str]
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    def start(self) -> Worker:
        log_path = self.folder / f"worker-{len(self.workers) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [sys.executable, "-m", "postroom.cli", "worker"],
                env=dict(self.environment),
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log_path)
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}:\n{w.log()}" for w in self.workers)

    def stop_all(self) -> list[int]:
        """SIGTERM every running worker at once, wait for them; return their exit codes."""
        running = [worker for worker in self.workers if worker.process.poll() is None]
        for worker in running:
            worker.terminate()
        return [worker.wait() for worker in running]


@contextmanager
def running_workers(environment: Mapping[str, str], folder: Path) -> Iterator[WorkerPool]:
    """A pool of workers; every worker it started is stopped and reaped when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(environment, folder)
    try:
        yield pool
    finally:
        pool.stop_all()


async def queue_outbox_emails(database_url: str, folder: Path, count: int) -> list[str]:
    """Create ``count`` outbox emails, all due now, in one transaction; return their ids."""
    settings = Settings(
        database_url=database_url,
        data_dir=folder,
        public_url="http://testserver",
        run_dispatcher=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        database: Database = app.state.database
        tenant = await create_tenant(app, database)
        try:
            lead = await create_lead(tenant.client)
        finally:
            await tenant.client.aclose()
        caller = Caller(tenant.organization_id, tenant.user_id, tenant.user_email, "Jane", "k")
        body = EmailActivityCreate.model_validate(
            {"lead_id": lead["id"], "status": "outbox", "sender": SENDER, "to": [RECIPIENT]}
            | {"subject": "Queued", "body_text": "Hello Bob"}
        )
        async with database.transaction() as session:
            emails = [
                await email_service.create_email(session, caller, body, settings)
                for _ in range(count)
            ]
        return [email.id for email in emails]


async def load_emails(database_url: str) -> list[EmailActivity]:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            return list((await session.execute(select(EmailActivity))).scalars().all())
    finally:
        await database.dispose()


async def unfinished_count(database: Database) -> int:
    """Emails still waiting (``outbox``) or still held by some worker."""
    statement = select(func.count()).where(
        (EmailActivity.status == "outbox") | EmailActivity.claimed_by.is_not(None)
    )
    async with database.transaction() as session:
        return (await session.execute(statement)).scalar_one()


async def claimers(database: Database) -> set[str]:
    """The ids of the workers holding at least one email right now."""
    statement = select(EmailActivity.claimed_by).where(EmailActivity.claimed_by.is_not(None))
    async with database.transaction() as session:
        return {str(worker) for worker in (await session.execute(statement.distinct())).scalars()}


@dataclass(frozen=True)
class Claims:
    """What one worker held: emails it had not started sending, and those in the sync gap."""

    unstarted: set[str]
    started: set[str]


async def claims_of_process(database: Database, pid: int) -> Claims:
    """The claims of the worker process ``pid`` (worker ids read ``host:pid:suffix``)."""
    statement = select(EmailActivity.id, EmailActivity.send_started_at).where(
        EmailActivity.claimed_by.like(f"%:{pid}:%")
    )
    async with database.transaction() as session:
        rows = (await session.execute(statement)).all()
    return Claims(
        unstarted={email_id for email_id, started in rows if started is None},
        started={email_id for email_id, started in rows if started is not None},
    )
