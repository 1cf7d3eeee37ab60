"""A page's datetimes, read as the API's text, are exactly what ``format_datetime`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select, type_coerce

from postroom.db import Database
from postroom.kit.datetimes import UTCDateTime, UTCDateTimeText, format_datetime
from tests.helpers import temporary_table

MOMENTS = [
    datetime(2026, 11, 26, 14, 3, 5, 123456, tzinfo=UTC),
    datetime(2026, 11, 26, 14, 3, 5, tzinfo=UTC),
    datetime(2030, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2027, 3, 28, 1, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
    datetime(999, 1, 1, tzinfo=UTC),
]
MOMENTS_TABLE = Table(
    "moments", MetaData(), Column("moment", UTCDateTime(), nullable=True), prefixes=["TEMPORARY"]
)


async def read_as_text(database: Database, moment: datetime | None) -> str | None:
    """``moment`` written to a ``UTCDateTime`` column, read back as a page reads it."""
    async with temporary_table(database, MOMENTS_TABLE) as connection:
        await connection.execute(insert(MOMENTS_TABLE).values(moment=moment))
        read = select(type_coerce(MOMENTS_TABLE.c.moment, UTCDateTimeText()))
        text: str | None = (await connection.execute(read)).scalar()
    return text


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
async def test_a_datetime_read_as_text_is_the_api_text(
    database: Database, moment: datetime
) -> None:
    assert await read_as_text(database, moment) == format_datetime(moment)


async def test_a_missing_datetime_reads_as_none(database: Database) -> None:
    assert await read_as_text(database, None) is None


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2026-11-26 14:03:05", "2026-11-26T14:03:05.000000+00:00"),
        ("2026-11-26 14:03:05.250000", "2026-11-26T14:03:05.250000+00:00"),
    ],
)
async def test_sqlite_text_written_by_another_program_reads_as_the_api_text(
    database: Database, stored: str, shown: str
) -> None:
    """SQLite keeps datetimes as text; one stored without a fraction (not by Postroom, which
    always writes microseconds) still reads as the API's text."""
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite keeps datetimes as text")
    async with temporary_table(database, MOMENTS_TABLE) as connection:
        await connection.exec_driver_sql("INSERT INTO moments (moment) VALUES (?)", (stored,))
        read = select(type_coerce(MOMENTS_TABLE.c.moment, UTCDateTimeText()))
        text = (await connection.execute(read)).scalar()
    assert text == shown
