"""A JSON column read as its text (``JSONFragmentRead``) writes out the JSON it holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, null, select, type_coerce

from postroom.db import Database
from postroom.kit import jsoncodec
from postroom.models.base import JSONDocument
from tests.helpers import temporary_table

DOCUMENTS_TABLE = Table(
    "documents",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("document", JSONDocument, nullable=True),
    prefixes=["TEMPORARY"],
)
VALUES: list[Any] = [
    [],
    ["Grüße <a@example.com>", '"Quote \\" Back" <q@example.com>', "line\u2028break"],
    {"message_id": "<x@y>", "size": 123456789012345678901234567890, "ok": True},
    [{"filename": "你好.pdf", "size": 3}],
    None,
    5,
    2.5,
    "text",
]


async def read_as_fragments(database: Database, stored: list[Any]) -> list[bytes]:
    """The values written to a JSON column, read back as a page reads them, then written."""
    async with temporary_table(database, DOCUMENTS_TABLE) as connection:
        rows = [{"n": n, "document": value} for n, value in enumerate(stored)]
        await connection.execute(insert(DOCUMENTS_TABLE), rows)
        await connection.execute(insert(DOCUMENTS_TABLE).values(n=len(stored), document=null()))
        read = select(type_coerce(DOCUMENTS_TABLE.c.document, jsoncodec.JSONFragmentRead()))
        fragments = (await connection.execute(read.order_by(DOCUMENTS_TABLE.c.n))).scalars()
        return [jsoncodec.dumps({"v": fragment}) for fragment in fragments]


@pytest.mark.parametrize("value", VALUES, ids=repr)
async def test_a_json_column_read_as_text_writes_the_value_it_holds(
    database: Database, value: Any
) -> None:
    [written, _sql_null] = await read_as_fragments(database, [value])
    assert json.loads(written) == {"v": value}


async def test_sql_null_writes_as_null(database: Database) -> None:
    [_empty, sql_null] = await read_as_fragments(database, [[]])
    assert json.loads(sql_null) == {"v": None}
