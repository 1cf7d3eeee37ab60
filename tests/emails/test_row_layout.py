"""How PostgreSQL stores an email's row: a typical email is read from its row alone.

A list page reads 100 rows. An email whose body sits in the TOAST table costs one more index
lookup and heap read there, per email, so a typical email (2 KB of text + HTML) must fit in
its own row; only a big body goes out of line (migration ``7c2f4a9e6b13``).
"""

from __future__ import annotations

import random
import string
from typing import Any

import pytest
from sqlalchemy import text

from postroom.db import Database
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, ok


def prose(rng: random.Random, characters: int) -> str:
    """Text that compresses about as well as an email's: words drawn from a few hundred."""
    vocabulary = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(400)
    ]
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < characters:
        words.append(rng.choice(vocabulary))
    return " ".join(words)[:characters]


async def toast_values(database: Database) -> int:
    async with database.transaction() as session:
        toast = await session.scalar(
            text("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = :table"),
            {"table": "email_activities"},
        )
        count = await session.scalar(text(f"SELECT count(*) FROM {toast}"))  # noqa: S608
    return int(count or 0)


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("TOAST is PostgreSQL's; SQLite has no such layout setting")


async def stored_and_read_back(
    tenant: Tenant, database: Database, **bodies: str
) -> tuple[int, dict[str, Any]]:
    """Log a ``sent`` email with these bodies: how many values it added to the TOAST table,
    and the email as ``GET`` reads it back."""
    lead = await create_lead(tenant.client)
    before = await toast_values(database)
    email = await create_email(tenant.client, lead["id"], status="sent", **bodies)
    added = await toast_values(database) - before
    return added, ok(await tenant.client.get(f"/activity/email/{email['id']}/"))


@pytest.mark.usefixtures("postgres_only")
async def test_a_typical_email_keeps_its_bodies_in_its_row(
    tenant: Tenant, database: Database
) -> None:
    rng = random.Random(8)
    body_text, body_html = prose(rng, 1000), f"<p>{prose(rng, 1100)}</p>"
    added, read = await stored_and_read_back(
        tenant, database, body_text=body_text, body_html=body_html
    )
    assert added == 0
    assert (read["body_text"], read["body_html"]) == (body_text, body_html)


@pytest.mark.usefixtures("postgres_only")
async def test_a_big_body_still_goes_out_of_line_and_reads_back_whole(
    tenant: Tenant, database: Database
) -> None:
    rng = random.Random(9)
    body_html = "".join(rng.choices(string.ascii_lowercase + string.digits, k=60_000))
    added, read = await stored_and_read_back(tenant, database, body_html=body_html)
    assert added > 0
    assert read["body_html"] == body_html
