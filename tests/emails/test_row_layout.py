"""How PostgreSQL stores an email's row: a typical email is read from its row alone.

A list page reads 100 rows. An email whose body sits in the TOAST table costs one more index
lookup and heap read there, per email, so a typical email (2 KB of text + HTML) must fit in
its own row; only a big body goes out of line (migration ``7c2f4a9e6b13``).
"""

from __future__ import annotations

import random
import string

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


@pytest.mark.usefixtures("postgres_only")
async def test_a_typical_email_keeps_its_bodies_in_its_row(
    tenant: Tenant, database: Database
) -> None:
    rng = random.Random(8)
    lead = await create_lead(tenant.client)
    before = await toast_values(database)
    body_text = prose(rng, 1000)
    body_html = f"<p>{prose(rng, 1100)}</p>"
    email = await create_email(
        tenant.client, lead["id"], status="sent", body_text=body_text, body_html=body_html
    )
    assert await toast_values(database) == before
    read = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert (read["body_text"], read["body_html"]) == (body_text, body_html)


@pytest.mark.usefixtures("postgres_only")
async def test_a_big_body_still_goes_out_of_line_and_reads_back_whole(
    tenant: Tenant, database: Database
) -> None:
    rng = random.Random(9)
    lead = await create_lead(tenant.client)
    before = await toast_values(database)
    body_html = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(60_000))
    email = await create_email(tenant.client, lead["id"], status="sent", body_html=body_html)
    assert await toast_values(database) > before
    read = ok(await tenant.client.get(f"/activity/email/{email['id']}/"))
    assert read["body_html"] == body_html
