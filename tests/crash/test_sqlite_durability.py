"""A SQLite database survives SIGKILL in the middle of a write burst.

A writer process (this module run as ``python -m tests.crash.test_sqlite_durability URL ORG``)
writes through Postroom's own ``Database`` (WAL, ``synchronous=FULL``, one writer with
``BEGIN IMMEDIATE``) as fast as it can: each transaction inserts a few leads with large
descriptions (overflow pages, WAL checkpoints) and rewrites an earlier one, then prints the ids
it inserted once the commit returned. The test SIGKILLs it at a random moment, several times,
and checks the file after every kill.

This is a process crash, not a power cut: what the killed process handed to the kernel stays
in the page cache. Power loss is what ``synchronous=FULL`` is for, and is not simulated here.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL, PIPE, Popen

import pytest
from sqlalchemy import update

from postroom import migrate
from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.models import Lead
from tests.databases import sqlite_url

pytestmark = pytest.mark.slow

KILLS = 6
ACKS_BEFORE_KILL = 20
"""The writer is killed only once it is in full flow (its imports take seconds)."""
KILL_WITHIN = (0.0, 0.6)
"""Seconds after ``ACKS_BEFORE_KILL`` acknowledged writes at which the SIGKILL lands."""
START_TIMEOUT = 120.0
REPO_ROOT = Path(__file__).resolve().parents[2]


# -- the writer (runs in the subprocess) -------------------------------------------------------


async def write_burst(database_url: str, organization_id: str) -> None:
    """Write until killed; print each inserted id once its commit returned."""
    database = Database(database_url)
    rng = random.Random()  # noqa: S311 - sizes, not secrets
    written: list[str] = []
    try:
        while True:
            leads = [new_lead(organization_id, rng) for _ in range(rng.randint(1, 6))]
            async with database.transaction() as session:
                session.add_all(leads)
                if written:
                    description = rng.randbytes(rng.randrange(1, 12_000)).hex()
                    rewrite = update(Lead).where(Lead.id == rng.choice(written))
                    await session.execute(rewrite.values(description=description))
            written.extend(lead.id for lead in leads)
            sys.stdout.write("".join(f"{lead.id}\n" for lead in leads))
            sys.stdout.flush()
    finally:
        await database.dispose()


def new_lead(organization_id: str, rng: random.Random) -> Lead:
    description = rng.randbytes(rng.randrange(1, 12_000)).hex()
    return Lead(id=new_id("lead"), organization_id=organization_id, description=description)


# -- the test ----------------------------------------------------------------------------------


@dataclass
class Round:
    """One writer process, from start to SIGKILL."""

    acknowledged: list[str] = field(default_factory=list)
    returncode: int | None = None
    refusal: str | None = None
    """What the startup check said right after the kill (None: it accepted the file)."""
    integrity: list[str] = field(default_factory=list)
    """``PRAGMA integrity_check`` right after the kill."""


@dataclass
class Burst:
    database_url: str
    path: Path
    rounds: list[Round]

    @property
    def acknowledged(self) -> set[str]:
        return {lead_id for burst in self.rounds for lead_id in burst.acknowledged}

    def summary(self) -> str:
        per_round = [len(result.acknowledged) for result in self.rounds]
        size = self.path.stat().st_size // 1024
        return (
            f"\nSQLite write burst: {len(self.rounds)} SIGKILLs, acknowledged leads per round "
            f"{per_round}, file {size} KiB"
        )


def read_acknowledgements(process: Popen[str], into: Round) -> None:
    """Collect complete lines (a line cut by the kill has no newline and is not counted)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.endswith("\n"):
            into.acknowledged.append(line.strip())


def integrity_check(path: Path) -> list[str]:
    """On a read-only connection, so the WAL stays as the crash left it for the next round."""
    with closing(migrate.read_only(path)) as connection:
        return [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]


def startup_refusal(database_url: str) -> str | None:
    """What the startup check of ``postroom serve`` says about the file (None: accepted)."""
    try:
        migrate.check_database(database_url)
    except migrate.UnusableDatabase as error:
        return str(error)
    return None


@contextmanager
def writer(database_url: str, organization_id: str, log: Path) -> Iterator[Popen[str]]:
    """The writer process; killed and reaped when the block ends."""
    arguments = ["-m", "tests.crash.test_sqlite_durability", database_url, organization_id]
    with log.open("ab") as errors:
        process = Popen(  # noqa: S603 - this module, fixed arguments
            [sys.executable, *arguments], cwd=REPO_ROOT, stdin=DEVNULL, stdout=PIPE,
            stderr=errors, text=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def kill_mid_burst(process: Popen[str], result: Round, log: Path, rng: random.Random) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while len(result.acknowledged) < ACKS_BEFORE_KILL:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the writer did not get going:\n{log.read_text()[-3000:]}")
        time.sleep(0.01)
    time.sleep(rng.uniform(*KILL_WITHIN))
    process.kill()
    result.returncode = process.wait()


def run_round(database_url: str, organization_id: str, log: Path, rng: random.Random) -> Round:
    result = Round()
    with writer(database_url, organization_id, log) as process:
        reader = threading.Thread(target=read_acknowledgements, args=(process, result))
        reader.start()
        try:
            kill_mid_burst(process, result, log, rng)
        finally:
            process.kill()
            reader.join()
    result.refusal = startup_refusal(database_url)
    result.integrity = integrity_check(sqlite_path(database_url))
    return result


def sqlite_path(database_url: str) -> Path:
    path = migrate.sqlite_file(database_url)
    assert path is not None
    return path


def create_organization(path: Path) -> str:
    organization_id = new_id("org")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "INSERT INTO organizations (id, name, created_at, updated_at)"
            " VALUES (?, 'Burst', '2026-01-01', '2026-01-01')",
            (organization_id,),
        )
        connection.commit()
    return organization_id


def stored_lead_ids(path: Path) -> set[str]:
    with closing(migrate.read_only(path)) as connection:
        return {str(row[0]) for row in connection.execute("SELECT id FROM leads")}


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Burst:
    folder = tmp_path_factory.mktemp("burst")
    database_url = sqlite_url(folder)
    migrate.upgrade(database_url)
    organization_id = create_organization(sqlite_path(database_url))
    rng = random.Random(7)
    log = folder / "writer.log"
    rounds = [run_round(database_url, organization_id, log, rng) for _ in range(KILLS)]
    outcome = Burst(database_url, sqlite_path(database_url), rounds)
    print(outcome.summary())  # noqa: T201
    return outcome


def test_every_kill_landed_in_the_middle_of_the_burst(burst: Burst) -> None:
    assert [result.returncode for result in burst.rounds] == [-signal.SIGKILL] * KILLS
    assert min(len(result.acknowledged) for result in burst.rounds) >= ACKS_BEFORE_KILL


def test_integrity_check_is_ok_after_every_sigkill(burst: Burst) -> None:
    assert [result.integrity for result in burst.rounds] == [["ok"]] * KILLS


def test_every_acknowledged_write_survives_the_sigkills(burst: Burst) -> None:
    assert burst.acknowledged
    assert burst.acknowledged - stored_lead_ids(burst.path) == set()


def test_a_database_killed_mid_write_is_accepted_at_the_next_start(burst: Burst) -> None:
    assert [result.refusal for result in burst.rounds] == [None] * KILLS


if __name__ == "__main__":
    asyncio.run(write_burst(sys.argv[1], sys.argv[2]))
