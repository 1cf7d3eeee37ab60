"""Scale (issue #8, point 6): grow the store to 1,000,000 emails over 10,000 leads, then
measure list-by-lead latency and the create rate against the empty store's.

For each database (SQLite in a temporary folder, and a fresh PostgreSQL database):

1. ``postroom serve`` on the empty store: a user and key (CLI), a few leads (API), one email
   (API) whose rows serve as the bulk loader's template, then the **empty-store create rate**:
   wrk POSTs ``sent`` emails (a ~1 KB text body and its HTML, one recipient) for a fixed time.
2. The server stops and the **bulk loader** writes leads, contacts, emails, their threads and
   the events Postroom would still keep (30 days) straight into the database with the raw
   driver (SQLite: ``executemany`` in large transactions; PostgreSQL: ``COPY``). Every row is
   a copy of the row Postroom itself wrote for the template, with ids, lead, contact, dates,
   subject, bodies, Message-ID and open token replaced the way the service fills them.
   Then a checkpoint (SQLite: ``wal_checkpoint`` and an ``fsync`` of the file, and no
   ``ANALYZE``, as Postroom never runs it; PostgreSQL: ``VACUUM (ANALYZE)``, as autovacuum
   would after such a load, and ``CHECKPOINT``), so the load's writes are not billed to the
   measurements.
3. The server starts again on the full store. Sample emails must come back from the API
   exactly as the service would have rendered them. Then **list-by-lead latency**
   (``GET /activity/email/?lead_id=``, default ``_limit`` = 100, one keep-alive connection of
   the stdlib's ``http.client``, sequential requests on random leads), the same query timed in
   SQL alone, its query plan, and the **full-store create rate** (same wrk run as in step 1).
4. Bytes on disk per email (SQLite file after a checkpoint; ``pg_database_size``).

Goals: list-by-lead p99 <= 10 ms; full-store create rate >= 0.9 x the empty store's.

    python bench/scale.py                          # 1,000,000 emails / 10,000 leads, both DBs
    python bench/scale.py --databases sqlite --emails 100000 --leads 1000
    python bench/scale.py --smoke                  # 2,000 emails / 20 leads, SQLite, seconds

Exit status: 0 when the run finished (goals met or not), 1 when bulk-loaded emails did not come
back from the API as the service renders them, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import os
import random
import re
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import psycopg
from processes import (
    HOST,
    BenchmarkError,
    chosen_databases,
    cpu_seconds,
    create_api_key,
    database_url,
    free_port,
    kib_read_from_disk,
    libpq,
    machine_facts,
    percentile,
    progress,
    publish,
    running_server,
    say,
    server_environment,
)
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg.types.string import TextLoader
from sqlalchemy import JSON
from sqlalchemy.engine import make_url

from postroom.config import Settings
from postroom.emails.rendering import body_preview
from postroom.kit.datetimes import format_datetime
from postroom.kit.ids import new_id
from postroom.models import Base
from postroom.threads.schemas import participants
from postroom.threads.subjects import display_subject, subject_key
from postroom.tracking.service import new_open_token

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results" / "scale.md"
GOAL_LIST_P99_MS = 10.0
GOAL_CREATE_RATIO = 0.9
LIST_LIMIT = 100
"""The API's default ``_limit`` (the list-by-lead requests send none)."""
SMALL_PAGE = 10
"""A second, informative list-by-lead run asks for this ``_limit``: how much is the page size."""
HISTORY = timedelta(days=365)
"""Bulk-loaded emails are spread evenly over the year before the load."""
EVENT_WINDOW = timedelta(days=Settings.model_fields["event_retention_days"].default - 1)
"""Events are written only for emails younger than the retention (minus a day of margin):
the server's housekeeping removes older ones, so a real store holds no more."""
ID_ALPHABET = string.ascii_letters + string.digits
ID_BYTES = bytes(ord(ID_ALPHABET[byte % len(ID_ALPHABET)]) for byte in range(256))
"""Random bytes -> the id alphabet, with ``bytes.translate``."""
ID_TAIL = 43
PARAGRAPHS_PER_BODY = 2
"""Each paragraph is ~420 characters: the text body is ~1 KB, its HTML ~1.1 KB."""
PREVIEW_SOURCE = 600
"""The preview (200 characters) comes from the text's beginning; normalizing the first 600
characters gives the same result as the whole ~1 KB text, cheaper."""
WRK_BODIES = 64
"""Distinct request bodies the wrk script cycles through (each on its own lead)."""
TEMPLATE_LEADS = 8
"""Leads created through the API on the empty store, for its create-rate run."""
LOAD_CHUNK = 20_000
SERVE_START_TIMEOUT = 600.0
"""``postroom serve`` runs ``PRAGMA quick_check`` on a SQLite file before it listens: on a
multi-GB store that alone takes longer than ``processes.START_TIMEOUT`` (30 s)."""


@dataclass(frozen=True)
class Workload:
    emails: int
    leads: int
    backends: tuple[str, ...]
    seed: int
    create_seconds: int
    """How long each wrk create-rate run lasts."""
    connections: int
    """wrk connections (2 threads) for the create-rate runs."""
    list_requests: int
    list_warmup: int
    sql_queries: int
    try_index: bool
    """Also time the list query with ``SUGGESTED_INDEX`` created by hand."""


# -- realistic content -----------------------------------------------------------------------

WORDS = (
    "we our team pricing proposal contract renewal quarter budget meeting call demo product "
    "feature integration rollout onboarding support timeline review decision customers data "
    "security compliance invoice discount licence seats upgrade plan next steps thanks follow "
    "up agenda schedule tuesday thursday friday week month legal procurement signature draft "
    "questions happy share deck notes summary migration pilot results feedback usage report"
).split()
FIRST_NAMES = "Ada Ben Carla Dmitri Elena Farid Grace Hugo Ines Jon Kemal Lena Mo Nora Otto".split()
LAST_NAMES = "Abe Berg Costa Diaz Evans Fischer Gallo Hale Ito Jensen Klein Lopez Moreau".split()
SUBJECTS = (
    "Proposal for {company}",
    "Re: Pricing for {company}",
    "Next steps with {company}",
    "Follow-up: our call",
    "{company} renewal",
    "Quick question",
    "Demo recap",
    "Contract draft for {company}",
)


class Corpus:
    """Paragraphs drawn once; a body is a greeting, two of them and a sign-off (~1 KB)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.paragraphs = [self._paragraph() for _ in range(256)]

    def _paragraph(self) -> str:
        sentences = []
        for _ in range(5):
            words = self.rng.choices(WORDS, k=self.rng.randint(8, 14))
            sentences.append(" ".join(words).capitalize() + ".")
        return " ".join(sentences)

    def bodies(self, first_name: str) -> tuple[str, str]:
        chosen = self.rng.sample(self.paragraphs, PARAGRAPHS_PER_BODY)
        text = "\n\n".join([f"Hi {first_name},", *chosen, "Best regards,\nBench Mark"])
        html = "".join(f"<p>{paragraph}</p>" for paragraph in text.split("\n\n"))
        return text, f"<html><body>{html}</body></html>"

    def subject(self, company: str) -> str:
        return self.rng.choice(SUBJECTS).format(company=company)


@dataclass(frozen=True)
class Person:
    lead_id: str
    contact_id: str
    company: str
    first_name: str
    address: str


def new_person(rng: random.Random, lead_id: str, contact_id: str, number: int) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{last} {rng.choice(WORDS).capitalize()} {number}"
    address = f"{first}.{last}{number}@{last.lower()}{number}.example.com".lower()
    return Person(lead_id, contact_id, company, first, address)


def fast_id(rng: random.Random, prefix: str) -> str:
    """``postroom.kit.ids.new_id``'s format, from a seeded generator (secrets is slow)."""
    return f"{prefix}_{rng.randbytes(ID_TAIL).translate(ID_BYTES).decode()}"


# -- the API ----------------------------------------------------------------------------------


class TimedClient:
    """The client of the timed list requests: the stdlib's ``http.client`` on one keep-alive
    connection. httpx spent 2.9 ms of its own CPU on each 390 KB page (http.client 0.6 ms), and
    that time was counted as the server's latency."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        token = base64.b64encode(f"{key}:".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get(self, path: str, parameters: dict[str, str]) -> tuple[int, bytes]:
        """Status and body of ``GET /api/v1/<path>?<parameters>``, read to the end."""
        target = f"/api/v1/{path}?{urlencode(parameters)}"
        self.connection.request("GET", target, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


class Api:
    def __init__(self, port: int, key: str) -> None:
        self.base_url = f"http://{HOST}:{port}/api/v1/"
        self.key = key
        self.client = httpx.Client(base_url=self.base_url, auth=(key, ""), timeout=60)
        self.timed = TimedClient(port, key)
        self.server_pid: int | None = None
        """The server's process, once known (its CPU time per timed request)."""

    def server_cpu_seconds(self) -> float:
        """The server's CPU time so far; NaN while its process is not known."""
        return cpu_seconds(self.server_pid) if self.server_pid else math.nan

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        self.timed.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return answer_of(self.client.post(path, json=body))

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return answer_of(self.client.get(path, params=params))

    def new_person(self, rng: random.Random, number: int) -> Person:
        person = new_person(rng, "", "", number)
        lead = self.post(
            "lead/",
            {
                "name": person.company,
                "contacts": [
                    {
                        "name": f"{person.first_name} Contact",
                        "emails": [{"email": person.address, "type": "office"}],
                    }
                ],
            },
        )
        contact_id = lead["contacts"][0]["id"]
        return Person(lead["id"], contact_id, person.company, person.first_name, person.address)


def answer_of(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        request = response.request
        raise BenchmarkError(
            f"{request.method} {request.url} answered {response.status_code}: {response.text}"
        )
    answer: dict[str, Any] = response.json()
    return answer


def email_request(corpus: Corpus, person: Person) -> dict[str, Any]:
    text, html = corpus.bodies(person.first_name)
    return {
        "lead_id": person.lead_id,
        "contact_id": person.contact_id,
        "status": "sent",
        "to": [person.address],
        "subject": corpus.subject(person.company),
        "body_text": text,
        "body_html": html,
    }


# -- wrk --------------------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic {authorization}"
local bodies = {{
{bodies}
}}
local sent = 0
request = function()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[(sent % #bodies) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class CreateRate:
    requests: int
    seconds: float
    failed: int
    latency_p50_ms: float
    latency_p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk_script(api: Api, bodies: Sequence[dict[str, Any]], folder: Path) -> Path:
    authorization = base64.b64encode(f"{api.key}:".encode()).decode()
    quoted = ",\n".join(f"[==[{json.dumps(body)}]==]" for body in bodies)
    path = folder / "create.lua"
    path.write_text(WRK_SCRIPT.format(authorization=authorization, bodies=quoted))
    return path


def measure_create_rate(api: Api, script: Path, workload: Workload) -> CreateRate:
    command = [
        "wrk",
        "-t2",
        f"-c{workload.connections}",
        f"-d{workload.create_seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        f"{api.base_url}activity/email/",
    ]
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchmarkError("wrk is not installed")
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        [wrk, *command[1:]],
        capture_output=True,
        text=True,
        timeout=workload.create_seconds + 60,
        check=False,
    )
    found = re.search(r"WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", completed.stdout)
    if completed.returncode != 0 or found is None:
        raise BenchmarkError(f"wrk failed:\n{completed.stdout}{completed.stderr}")
    requests, micros, bad_status, socket_errors, p50, p99 = map(int, found.groups())
    return CreateRate(requests, micros / 1e6, bad_status + socket_errors, p50 / 1000, p99 / 1000)


# -- the stores -------------------------------------------------------------------------------

JSON_COLUMNS = {
    table.name: {column.name for column in table.columns if isinstance(column.type, JSON)}
    for table in Base.metadata.sorted_tables
}


class Store(Protocol):
    loader: str

    def row(self, table: str, column: str, value: str) -> dict[str, Any]: ...
    def encode_time(self, value: datetime) -> Any: ...
    def encode_json(self, value: Any) -> Any: ...
    def decode_json(self, value: Any) -> Any: ...
    def insert(
        self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> None: ...
    def finish_load(self) -> None: ...
    def count(self, table: str) -> int: ...
    def list_query_seconds(self, organization_id: str, lead_id: str) -> float: ...
    def plan(self, organization_id: str, lead_id: str) -> str: ...
    def create_index(self, definition: str) -> None: ...
    def disk_bytes(self) -> tuple[int, dict[str, int]]: ...
    def close(self) -> None: ...


LIST_SQL = (
    "SELECT * FROM email_activities WHERE organization_id = {p} AND lead_id IN ({p}) "
    "ORDER BY created_at DESC, id DESC LIMIT {p} OFFSET {p}"
)
"""What ``emails.repository.list_emails`` sends for ``?lead_id=X`` (SQLAlchemy names every
column instead of ``*``); one more row than the page, to know ``has_more``."""
SUGGESTED_INDEX = (
    "CREATE INDEX ix_bench_email_activities_org_lead_created_id "
    "ON email_activities (organization_id, lead_id, created_at, id)"
)


class SqliteStore:
    """sqlite3 with the loader's own settings (the file stays in WAL mode for the server)."""

    loader = "sqlite3 executemany, 20,000-row transactions, synchronous=OFF, 1 GiB cache"

    def __init__(self, url: str) -> None:
        self.path = Path(make_url(url).database or "")
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        for pragma in ("synchronous=OFF", "cache_size=-1048576", "temp_store=MEMORY"):
            self.connection.execute(f"PRAGMA {pragma}")

    def row(self, table: str, column: str, value: str) -> dict[str, Any]:
        query = f"SELECT * FROM {table} WHERE {column} = ?"  # noqa: S608 - our own names
        found = self.connection.execute(query, (value,)).fetchone()
        if found is None:
            raise BenchmarkError(f"no {table} row with {column} = {value}")
        return dict(found)

    def encode_time(self, value: datetime) -> Any:
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def encode_json(self, value: Any) -> Any:
        return json.dumps(value)

    def decode_json(self, value: Any) -> Any:
        return json.loads(value)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{name}"' for name in columns)
        statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        for chunk in chunks(rows, LOAD_CHUNK):
            self.connection.execute("BEGIN")
            self.connection.executemany(statement, chunk)
            self.connection.execute("COMMIT")

    def finish_load(self) -> None:
        """A checkpoint, and no ``ANALYZE``: Postroom never gathers SQLite statistics, so the
        measurements see the query plans a deployment gets. The loader writes with
        ``synchronous=OFF``, so the checkpoint leaves its gigabytes in the kernel's dirty
        pages: the file is ``fsync``ed here, as PostgreSQL's ``CHECKPOINT`` does, or the
        kernel's write-back of the load runs during the full-store measurements."""
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def count(self, table: str) -> int:
        row = self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0])

    def list_query_seconds(self, organization_id: str, lead_id: str) -> float:
        started = time.perf_counter()
        query = LIST_SQL.format(p="?")
        self.connection.execute(query, (organization_id, lead_id, LIST_LIMIT + 1, 0)).fetchall()
        return time.perf_counter() - started

    def plan(self, organization_id: str, lead_id: str) -> str:
        query = "EXPLAIN QUERY PLAN " + LIST_SQL.format(p="?")
        rows = self.connection.execute(query, (organization_id, lead_id, LIST_LIMIT + 1, 0))
        return "\n".join(str(row["detail"]) for row in rows)

    def create_index(self, definition: str) -> None:
        self.connection.execute(definition)
        self.connection.execute("ANALYZE")

    def disk_bytes(self) -> tuple[int, dict[str, int]]:
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = self.path.with_name(self.path.name + "-wal")
        total = self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        query = (
            "SELECT coalesce(m.tbl_name, d.name) AS owner, sum(d.pgsize) AS size "
            "FROM dbstat AS d LEFT JOIN sqlite_master AS m ON m.name = d.name GROUP BY owner"
        )
        return total, {str(row[0]): int(row[1]) for row in self.connection.execute(query)}

    def close(self) -> None:
        self.connection.close()


class PostgresStore:
    loader = "psycopg COPY FROM STDIN, one transaction per table; VACUUM (ANALYZE), CHECKPOINT"

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(libpq(url), autocommit=True, row_factory=dict_row)
        self.connection.execute("SET synchronous_commit = off")

    def row(self, table: str, column: str, value: str) -> dict[str, Any]:
        query = sql.SQL("SELECT * FROM {} WHERE {} = %s").format(
            sql.Identifier(table), sql.Identifier(column)
        )
        found = self.connection.execute(query, (value,)).fetchone()
        if found is None:
            raise BenchmarkError(f"no {table} row with {column} = {value}")
        return dict(found)

    def encode_time(self, value: datetime) -> Any:
        return value

    def encode_json(self, value: Any) -> Any:
        return Jsonb(value)

    def decode_json(self, value: Any) -> Any:
        return value

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.connection.transaction(), self.connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)

    def finish_load(self) -> None:
        # Like the SQLite loader's wal_checkpoint: the load's gigabytes of dirty pages are
        # written out now, not by a checkpoint in the middle of the full-store measurements.
        self.connection.execute("VACUUM (ANALYZE)")
        self.connection.execute("CHECKPOINT")

    def count(self, table: str) -> int:
        query = sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
        row = self.connection.execute(query).fetchone()
        return int(row["n"]) if row else 0

    def list_query_seconds(self, organization_id: str, lead_id: str) -> float:
        """The rows as tuples, JSON columns as their text: the query and its rows, as SQLite's
        are timed, not psycopg's default ``json.loads`` of 900 values (until 2026-12-03 this
        was timed with dict rows and decoded JSON: 5.6 ms a page in process, 1.5 ms this way)."""
        cursor = self.connection.cursor(row_factory=tuple_row)
        for json_type in ("json", "jsonb"):
            cursor.adapters.register_loader(json_type, TextLoader)
        query = LIST_SQL.format(p="%s")
        parameters = (organization_id, lead_id, LIST_LIMIT + 1, 0)
        started = time.perf_counter()
        cursor.execute(query, parameters, prepare=True).fetchall()
        return time.perf_counter() - started

    def plan(self, organization_id: str, lead_id: str) -> str:
        query = "EXPLAIN (ANALYZE, BUFFERS) " + LIST_SQL.format(p="%s")
        rows = self.connection.execute(query, (organization_id, lead_id, LIST_LIMIT + 1, 0))
        return "\n".join(str(row["QUERY PLAN"]) for row in rows)

    def create_index(self, definition: str) -> None:
        self.connection.execute(definition)
        self.connection.execute("ANALYZE email_activities")

    def disk_bytes(self) -> tuple[int, dict[str, int]]:
        self.connection.execute("CHECKPOINT")
        database = self.connection.execute("SELECT pg_database_size(current_database()) AS n")
        total = database.fetchone()
        query = (
            "SELECT relname AS owner, pg_total_relation_size(oid) AS size FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        tables = {str(row["owner"]): int(row["size"]) for row in self.connection.execute(query)}
        return (int(total["n"]) if total else 0), tables

    def close(self) -> None:
        self.connection.close()


def open_store(backend: str, url: str) -> Store:
    return SqliteStore(url) if backend == "sqlite" else PostgresStore(url)


def chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- the bulk loader --------------------------------------------------------------------------


class RowTemplate:
    """A row Postroom wrote, as the driver returns it; copies differ only where told."""

    def __init__(self, store: Store, table: str, row: dict[str, Any]) -> None:
        self.table = table
        self.columns = list(row)
        self.positions = {name: position for position, name in enumerate(self.columns)}
        json_columns = JSON_COLUMNS[table]
        self.values = {
            name: (
                store.encode_json(store.decode_json(value))
                if name in json_columns and value is not None
                else value
            )
            for name, value in row.items()
        }

    def copy(self, changes: dict[str, Any]) -> tuple[Any, ...]:
        row = list(self.values.values())
        for name, value in changes.items():
            row[self.positions[name]] = value
        return tuple(row)


@dataclass
class Templates:
    """The rows behind one email created through the API on the empty store."""

    lead: RowTemplate
    contact: RowTemplate
    email: RowTemplate
    thread: RowTemplate
    email_event: RowTemplate
    thread_event: RowTemplate
    email_data: dict[str, Any]
    """The email as the API renders it (the data of its ``created`` event)."""
    thread_data: dict[str, Any]
    contact_emails: list[dict[str, Any]]
    organization_id: str
    sender: str


def read_templates(store: Store, email_id: str) -> Templates:
    email = store.row("email_activities", "id", email_id)
    thread = store.row("email_threads", "id", email["thread_id"])
    email_event = store.row("events", "object_id", email_id)
    thread_event = store.row("events", "object_id", email["thread_id"])
    lead = store.row("leads", "id", email["lead_id"])
    contact = store.row("contacts", "id", email["contact_id"])
    return Templates(
        lead=RowTemplate(store, "leads", lead),
        contact=RowTemplate(store, "contacts", contact),
        email=RowTemplate(store, "email_activities", email),
        thread=RowTemplate(store, "email_threads", thread),
        email_event=RowTemplate(store, "events", email_event),
        thread_event=RowTemplate(store, "events", thread_event),
        email_data=store.decode_json(email_event["data"]),
        thread_data=store.decode_json(thread_event["data"]),
        contact_emails=store.decode_json(contact["emails"]),
        organization_id=str(email["organization_id"]),
        sender=str(email["sender"]),
    )


@dataclass
class Loaded:
    people: list[Person]
    emails_per_lead: dict[str, int]
    expected: dict[str, dict[str, Any]]
    """Sample email id -> how the API must render it."""
    organization_id: str
    seconds: float = 0.0
    analyze_seconds: float = 0.0


class BulkLoader:
    def __init__(self, store: Store, templates: Templates, rng: random.Random) -> None:
        self.store = store
        self.templates = templates
        self.rng = rng
        self.corpus = Corpus(rng)
        self.now = datetime.now(UTC)
        self.domain = templates.sender.rpartition("@")[2].rstrip(">")
        self.events: list[tuple[Any, ...]] = []

    def load(self, emails: int, leads: int) -> Loaded:
        started = time.monotonic()
        people = self.load_people(leads)
        progress(f"{leads} leads and contacts written")
        per_lead = dict.fromkeys((person.lead_id for person in people), 0)
        loaded = Loaded(people, per_lead, {}, self.templates.organization_id)
        threads: list[tuple[Any, ...]] = []
        email_rows = self.email_rows(emails, loaded, threads)
        self.store.insert("email_activities", self.templates.email.columns, email_rows)
        progress(f"{emails} emails written")
        self.store.insert("email_threads", self.templates.thread.columns, threads)
        self.store.insert("events", self.templates.email_event.columns, self.events)
        progress(f"{len(threads)} threads and {len(self.events)} events written")
        loaded.seconds = time.monotonic() - started
        started = time.monotonic()
        self.store.finish_load()
        loaded.analyze_seconds = time.monotonic() - started
        return loaded

    def load_people(self, leads: int) -> list[Person]:
        store, created = self.store, self.now - HISTORY - timedelta(days=1)
        when = store.encode_time(created)
        people = [
            new_person(self.rng, fast_id(self.rng, "lead"), fast_id(self.rng, "cont"), number)
            for number in range(leads)
        ]
        lead_rows = (
            self.templates.lead.copy(
                {"id": p.lead_id, "name": p.company, "created_at": when, "updated_at": when}
            )
            for p in people
        )
        store.insert("leads", self.templates.lead.columns, lead_rows)
        contact_rows = (
            self.templates.contact.copy(
                {
                    "id": p.contact_id,
                    "lead_id": p.lead_id,
                    "name": f"{p.first_name} Contact",
                    "emails": store.encode_json(self.contact_emails(p)),
                    "created_at": when,
                    "updated_at": when,
                }
            )
            for p in people
        )
        store.insert("contacts", self.templates.contact.columns, contact_rows)
        return people

    def contact_emails(self, person: Person) -> list[dict[str, Any]]:
        return [{**item, "email": person.address} for item in self.templates.contact_emails]

    def email_rows(
        self, emails: int, loaded: Loaded, threads: list[tuple[Any, ...]]
    ) -> Iterator[tuple[Any, ...]]:
        """Oldest first, as the API would have created them; threads and events collected."""
        step = HISTORY / emails
        first = self.now - HISTORY
        events_from = self.now - EVENT_WINDOW
        samples = {0, emails // 2, emails - 1}
        for number in range(emails):
            person = loaded.people[self.rng.randrange(len(loaded.people))]
            loaded.emails_per_lead[person.lead_id] += 1
            created = first + step * (number + self.rng.random())
            with_events = created >= events_from
            email = self.email(person, created, with_data=with_events or number in samples)
            threads.append(self.thread_row(email))
            if with_events:
                self.events.extend(self.event_rows(email))
            if number in samples:
                loaded.expected[email.id] = email.data
            yield email.row

    def email(self, person: Person, created: datetime, with_data: bool) -> NewEmail:
        rng, store = self.rng, self.store
        email_id, thread_id = fast_id(rng, "acti"), fast_id(rng, "acti")
        subject = self.corpus.subject(person.company)
        text, html = self.corpus.bodies(person.first_name)
        preview = body_preview(text[:PREVIEW_SOURCE], html)
        message_id = make_msgid(domain=self.domain)
        when = store.encode_time(created)
        row = self.templates.email.copy(
            {
                "id": email_id,
                "lead_id": person.lead_id,
                "contact_id": person.contact_id,
                "thread_id": thread_id,
                "created_at": when,
                "updated_at": when,
                "activity_at": when,
                "sent_at": when,
                "subject": subject,
                "body_text": text,
                "body_html": html,
                "body_preview": preview,
                "to_addresses": store.encode_json([person.address]),
                "message_ids": store.encode_json([message_id]),
                "message_id": message_id,
                "open_token": new_open_token(),
            }
        )
        email = NewEmail(email_id, thread_id, person, created, subject, row)
        if with_data:
            stamp = format_datetime(created)
            email.data = {
                **self.templates.email_data,
                "id": email_id,
                "lead_id": person.lead_id,
                "contact_id": person.contact_id,
                "thread_id": thread_id,
                "date_created": stamp,
                "date_updated": stamp,
                "activity_at": stamp,
                "date_sent": stamp,
                "subject": subject,
                "body_text": text,
                "body_html": html,
                "body_preview": preview,
                "to": [person.address],
                "message_ids": [message_id],
            }
        return email

    def thread_row(self, email: NewEmail) -> tuple[Any, ...]:
        when = self.store.encode_time(email.created)
        return self.templates.thread.copy(
            {
                "id": email.thread_id,
                "lead_id": email.person.lead_id,
                "contact_id": email.person.contact_id,
                "normalized_subject": subject_key(email.subject),
                "latest_normalized_subject": display_subject(email.subject),
                "created_at": when,
                "updated_at": when,
            }
        )

    def event_rows(self, email: NewEmail) -> list[tuple[Any, ...]]:
        """The ``created`` events of the email and of its thread, as the service records them."""
        store, stamp = self.store, format_datetime(email.created)
        when = store.encode_time(email.created)
        sender = SimpleNamespace(sender=self.templates.sender, cc_addresses=[])
        sender.to_addresses = [email.person.address]
        thread_data = {
            **self.templates.thread_data,
            "id": email.thread_id,
            "lead_id": email.person.lead_id,
            "contact_id": email.person.contact_id,
            "emails": [email.data],
            "latest_normalized_subject": display_subject(email.subject),
            "participants": participants([sender]),
            "activity_at": stamp,
            "date_created": stamp,
            "date_updated": stamp,
        }
        common = {"lead_id": email.person.lead_id, "created_at": when, "updated_at": when}
        return [
            self.templates.email_event.copy(
                {
                    **common,
                    "id": fast_id(self.rng, "ev"),
                    "object_id": email.id,
                    "data": store.encode_json(email.data),
                }
            ),
            self.templates.thread_event.copy(
                {
                    **common,
                    "id": fast_id(self.rng, "ev"),
                    "object_id": email.thread_id,
                    "data": store.encode_json(thread_data),
                }
            ),
        ]


@dataclass
class NewEmail:
    id: str
    thread_id: str
    person: Person
    created: datetime
    subject: str
    row: tuple[Any, ...]
    data: dict[str, Any] = field(default_factory=dict)


# -- measurements -----------------------------------------------------------------------------


@dataclass
class Latency:
    kind: str
    """``api`` (client-side, through HTTP) or ``sql`` (the query alone, raw driver)."""
    label: str
    seconds: list[float]
    server_cpu_seconds: float = math.nan
    """The server's CPU time (user + system) over the run (``api`` only)."""
    disk_kib: float = math.nan
    """KiB the machine read in from disk over the run: pages that were not in the page cache."""

    def p(self, rank: float) -> float:
        return 1000 * percentile(self.seconds, rank)

    @property
    def server_cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_seconds / len(self.seconds)

    @property
    def disk_kib_per_request(self) -> float:
        return self.disk_kib / len(self.seconds)


@dataclass
class Result:
    backend: str
    workload: Workload
    loader: str = ""
    emails: int = 0
    leads: int = 0
    load_seconds: float = 0.0
    analyze_seconds: float = 0.0
    start_seconds: float = 0.0
    """How long ``postroom serve`` took to listen on the full store."""
    empty: CreateRate | None = None
    full: CreateRate | None = None
    latencies: list[Latency] = field(default_factory=list)
    page_bytes: int = 0
    plans: dict[str, str] = field(default_factory=dict)
    disk_total: int = 0
    disk_tables: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        if self.empty is None or self.full is None:
            return float("nan")
        return self.full.per_second / self.empty.per_second


def time_list_by_lead(
    api: Api, lead_ids: Sequence[str], rng: random.Random, count: int, limit: int
) -> Latency:
    """Sequential requests on random leads; ``limit`` 0 sends no ``_limit`` (the default)."""
    paging = {"_limit": str(limit)} if limit else {}
    seconds: list[float] = []
    cpu_before = api.server_cpu_seconds()
    disk_before = kib_read_from_disk()
    for _ in range(count):
        parameters = {"lead_id": rng.choice(lead_ids), **paging}
        started = time.perf_counter()
        status, body = api.timed.get("activity/email/", parameters)
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise BenchmarkError(f"list-by-lead answered {status}: {body[:500]!r}")
        json.loads(body)
    cpu = api.server_cpu_seconds() - cpu_before
    label = f"_limit={limit or f'default ({LIST_LIMIT})'}"
    return Latency("api", label, seconds, cpu, kib_read_from_disk() - disk_before)


def time_sql(store: Store, organization_id: str, lead_ids: Sequence[str], label: str) -> Latency:
    disk_before = kib_read_from_disk()
    seconds = [store.list_query_seconds(organization_id, lead_id) for lead_id in lead_ids]
    return Latency("sql", label, seconds, disk_kib=kib_read_from_disk() - disk_before)


def check_loaded(api: Api, loaded: Loaded) -> list[str]:
    """Sample emails must come back exactly as the service renders them; pages must fill."""
    problems = []
    for email_id, expected in loaded.expected.items():
        shown = api.get(f"activity/email/{email_id}/")
        differing = sorted(
            key for key in expected.keys() | shown.keys() if expected.get(key) != shown.get(key)
        )
        if differing:
            problems.append(f"{email_id}: fields differ from the service's rendering: {differing}")
    lead = loaded.people[0].lead_id
    page = api.get("activity/email/", lead_id=lead)
    want = min(loaded.emails_per_lead[lead], LIST_LIMIT)
    if len(page["data"]) != want or any(item["lead_id"] != lead for item in page["data"]):
        problems.append(f"lead {lead}: {len(page['data'])} emails listed, expected {want}")
    return problems


# -- one database -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """How to start ``postroom serve`` on this database again."""

    environment: dict[str, str]
    folder: Path
    port: int
    key: str

    @contextmanager
    def serving(self, result: Result) -> Iterator[Api]:
        """The server on the full store; how long it took to listen goes into ``result``."""
        started = time.monotonic()
        with running_server(
            self.environment, self.folder, self.port, SERVE_START_TIMEOUT
        ) as process:
            result.start_seconds = time.monotonic() - started
            with Api(self.port, self.key) as api:
                api.server_pid = process.pid
                yield api


def run_backend(backend: str, workload: Workload, postgres_url: str) -> Result:
    result = Result(backend, workload)
    rng = random.Random(workload.seed)  # noqa: S311 - a reproducible workload
    corpus = Corpus(rng)
    with (
        tempfile.TemporaryDirectory(prefix="postroom-scale-") as tmp,
        database_url(backend, Path(tmp), postgres_url) as url,
    ):
        folder, port = Path(tmp), free_port()
        environment = server_environment(url, folder, port, "capture://")
        with running_server(environment, folder, port):
            server = Server(environment, folder, port, create_api_key(environment, folder))
            with Api(port, server.key) as api:
                progress(f"{backend}: empty store, postroom serve on port {port}")
                template_id = empty_store_phase(api, folder, corpus, rng, result)
        with closing(open_store(backend, url)) as store:
            loaded = bulk_load(store, template_id, workload, rng, result)
            with server.serving(result) as api:
                progress(
                    f"{backend}: full store, serve listened after {result.start_seconds:.1f} s"
                )
                full_store_phase(api, folder, corpus, store, loaded, result)
            if workload.try_index:
                store.create_index(SUGGESTED_INDEX)
                measure_sql(store, loaded, result, "with the suggested index")
            result.disk_total, result.disk_tables = store.disk_bytes()
    say(disk_line(result))
    progress(f"{backend}: done, server stopped")
    return result


def empty_store_phase(
    api: Api, folder: Path, corpus: Corpus, rng: random.Random, result: Result
) -> str:
    """Create the leads and the template email, then measure the empty store's create rate."""
    people = [api.new_person(rng, number) for number in range(TEMPLATE_LEADS)]
    template = api.post("activity/email/", email_request(corpus, people[0]))
    bodies = [email_request(corpus, people[n % len(people)]) for n in range(WRK_BODIES)]
    result.empty = measure_create_rate(api, wrk_script(api, bodies, folder), result.workload)
    say(create_line(result.backend, "empty", result.empty))
    return str(template["id"])


def bulk_load(
    store: Store, template_id: str, workload: Workload, rng: random.Random, result: Result
) -> Loaded:
    templates = read_templates(store, template_id)
    to_load = max(workload.emails - store.count("email_activities"), 0)
    progress(f"{result.backend}: bulk loading {to_load} emails over {workload.leads} leads")
    loaded = BulkLoader(store, templates, rng).load(to_load, workload.leads)
    result.loader, result.load_seconds = store.loader, loaded.seconds
    result.analyze_seconds = loaded.analyze_seconds
    result.emails, result.leads = store.count("email_activities"), store.count("leads")
    say(
        f"scale {result.backend} load: emails={result.emails} leads={result.leads} "
        f"loaded={to_load} seconds={loaded.seconds:.1f} "
        f"analyze_seconds={loaded.analyze_seconds:.1f}"
    )
    return loaded


def full_store_phase(
    api: Api, folder: Path, corpus: Corpus, store: Store, loaded: Loaded, result: Result
) -> None:
    result.mismatches = check_loaded(api, loaded)
    progress(f"{result.backend}: sample emails checked through the API")
    measure_lists(api, store, loaded, result)
    rng = random.Random(result.workload.seed + 1)  # noqa: S311 - reproducible
    people = rng.sample(loaded.people, min(WRK_BODIES, len(loaded.people)))
    bodies = [email_request(corpus, person) for person in people]
    result.full = measure_create_rate(api, wrk_script(api, bodies, folder), result.workload)
    say(create_line(result.backend, "full", result.full))
    goal = "met" if result.ratio >= GOAL_CREATE_RATIO else "NOT met"
    say(f"scale {result.backend} create ratio: full/empty={result.ratio:.2f} goal={goal}")


def measure_lists(api: Api, store: Store, loaded: Loaded, result: Result) -> None:
    """API list-by-lead latency (default and small pages), then the query in SQL alone."""
    workload = result.workload
    rng = random.Random(workload.seed + 2)  # noqa: S311 - reproducible
    lead_ids = [person.lead_id for person in loaded.people]
    time_list_by_lead(api, lead_ids, rng, workload.list_warmup, 0)
    latencies = [
        time_list_by_lead(api, lead_ids, rng, workload.list_requests, 0),
        time_list_by_lead(api, lead_ids, rng, workload.list_requests // 4, SMALL_PAGE),
    ]
    for latency in latencies:
        say(latency_line(result.backend, latency))
    result.latencies.extend(latencies)
    page = api.client.get("activity/email/", params={"lead_id": lead_ids[0]})
    result.page_bytes = len(page.content)
    measure_sql(store, loaded, result, "indexes as shipped")


def measure_sql(store: Store, loaded: Loaded, result: Result, label: str) -> None:
    """The list query alone through the raw driver (rows fetched), and its plan."""
    rng = random.Random(result.workload.seed + 3)  # noqa: S311 - the same leads every time
    leads = [rng.choice(loaded.people).lead_id for _ in range(result.workload.sql_queries)]
    latency = time_sql(store, loaded.organization_id, leads, label)
    say(latency_line(result.backend, latency))
    result.latencies.append(latency)
    result.plans[label] = store.plan(loaded.organization_id, leads[0])


# -- results ----------------------------------------------------------------------------------


def create_line(backend: str, store: str, rate: CreateRate) -> str:
    return (
        f"scale {backend} create {store}: rate={rate.per_second:.1f}/s requests={rate.requests} "
        f"seconds={rate.seconds:.1f} failed={rate.failed} "
        f"p50={rate.latency_p50_ms:.1f} ms p99={rate.latency_p99_ms:.1f} ms"
    )


def latency_line(backend: str, latency: Latency) -> str:
    goal = "met" if latency.p(99) <= GOAL_LIST_P99_MS else "NOT met"
    return (
        f"scale {backend} list_by_lead {latency.kind} ({latency.label}): n={len(latency.seconds)} "
        f"p50={latency.p(50):.2f} ms p99={latency.p(99):.2f} ms "
        f"max={1000 * max(latency.seconds):.2f} ms goal={goal} "
        f"server_cpu_per_request={dash_if_nan(latency.server_cpu_ms_per_request, '.2f')} ms "
        f"disk_read_per_request={dash_if_nan(latency.disk_kib_per_request, '.1f')} KiB"
    )


def disk_line(result: Result) -> str:
    return (
        f"scale {result.backend} disk: bytes_per_email={result.disk_total / result.emails:.0f} "
        f"total_bytes={result.disk_total} emails={result.emails}"
    )


def mib(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def summary_rows(result: Result) -> list[str]:
    empty, full = result.empty, result.full
    assert empty is not None  # noqa: S101 - set by run_backend
    assert full is not None  # noqa: S101
    api = next(item for item in result.latencies if item.kind == "api")
    yes = {True: "yes", False: "**no**"}
    return [
        f"| {result.backend} | empty-store create rate (emails/s) | {empty.per_second:.1f} | | | |",
        f"| {result.backend} | full-store create rate (emails/s) | {full.per_second:.1f} | "
        f"{empty.per_second:.1f} (empty store) | {result.ratio:.2f} | ≥ {GOAL_CREATE_RATIO} → "
        f"{yes[result.ratio >= GOAL_CREATE_RATIO]} |",
        f"| {result.backend} | list-by-lead p50 (ms) | {api.p(50):.2f} | | | |",
        f"| {result.backend} | list-by-lead p99 (ms) | {api.p(99):.2f} | | | ≤ "
        f"{GOAL_LIST_P99_MS:.0f} → {yes[api.p(99) <= GOAL_LIST_P99_MS]} |",
        f"| {result.backend} | bytes on disk per email | "
        f"{result.disk_total / result.emails:,.0f} | | | |",
    ]


def detail_rows(result: Result) -> list[str]:
    empty, full = result.empty, result.full
    assert empty is not None  # noqa: S101 - set by run_backend
    assert full is not None  # noqa: S101
    rows = [
        f"| emails / leads in the store | {result.emails:,} / {result.leads:,} |",
        f"| bulk loader | {result.loader} |",
        f"| load time (s) / ANALYZE (s) | {result.load_seconds:.1f} / "
        f"{result.analyze_seconds:.1f} |",
        f"| `postroom serve` start on the full store, until it listens (s) | "
        f"{result.start_seconds:.1f} |",
        f"| create: wrk requests, seconds, failed (empty) | {empty.requests}, "
        f"{empty.seconds:.1f}, {empty.failed} |",
        f"| create: wrk requests, seconds, failed (full) | {full.requests}, "
        f"{full.seconds:.1f}, {full.failed} |",
        f"| create: POST p50 / p99 ms (empty → full) | {empty.latency_p50_ms:.1f} / "
        f"{empty.latency_p99_ms:.1f} → {full.latency_p50_ms:.1f} / {full.latency_p99_ms:.1f} |",
        f"| list-by-lead page size (bytes, {LIST_LIMIT} emails) | {result.page_bytes:,} |",
        f"| on disk, total (MiB) | {mib(result.disk_total)} |",
    ]
    for table, size in sorted(result.disk_tables.items(), key=lambda item: -item[1])[:4]:
        rows.append(f"| on disk, `{table}` with its indexes (MiB) | {mib(size)} |")
    return rows


def latency_rows(result: Result) -> list[str]:
    return [
        f"| {result.backend} | {item.label} | {item.kind} | {len(item.seconds)} | "
        f"{item.p(50):.2f} | {item.p(99):.2f} | {1000 * max(item.seconds):.2f} | "
        f"{dash_if_nan(item.server_cpu_ms_per_request, '.2f')} | "
        f"{dash_if_nan(item.disk_kib_per_request, ',.1f')} |"
        for item in result.latencies
    ]


def dash_if_nan(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def plan_blocks(result: Result) -> list[str]:
    lines: list[str] = []
    for label, plan in result.plans.items():
        lines += [f"{result.backend}, {label}:", "", "```", plan, "```", ""]
    return lines


def facts(workload: Workload, postgres_url: str) -> list[tuple[str, str]]:
    return machine_facts(
        workload.backends,
        postgres_url,
        ("SQLite", sqlite3.sqlite_version),
        ("Seed", str(workload.seed)),
        ("wrk", f"2 threads, {workload.connections} connections, {workload.create_seconds} s"),
    )


def markdown(results: list[Result], machine: list[tuple[str, str]], workload: Workload) -> str:
    lines = [
        "# Scale: 1,000,000 emails over 10,000 leads"
        if workload.emails == 1_000_000 and workload.leads == 10_000
        else f"# Scale: {workload.emails:,} emails over {workload.leads:,} leads",
        "",
        "Issue #8, point 6. The store is grown by a bulk loader that writes Postroom's own "
        "rows straight into the database (copies of the rows the service wrote for one email "
        "created through the API; emails spread over a year, one thread each, events for the "
        "last 29 days as the 30-day retention keeps them), then a checkpoint written out to disk "
        "(SQLite: `wal_checkpoint` and `fsync`; PostgreSQL: `VACUUM (ANALYZE)`, as autovacuum "
        "would, and `CHECKPOINT`; SQLite gets no statistics, as in Postroom). "
        "Create rate: wrk "
        "POSTs `sent` emails (a ~1 KB text body and its ~1.1 KB HTML, one recipient) for a "
        "fixed time, on the empty store and again on the full one. List-by-lead: "
        f"`GET /activity/email/?lead_id=` with the default `_limit` ({LIST_LIMIT}) on random "
        "leads, sequential requests on one keep-alive connection of the stdlib's `http.client`, "
        "timed by the client (from the request sent to the last byte read). Beside each "
        "run: the server's CPU time per request, and what the whole machine read from disk "
        "per request (`pgpgin`: pages not in the page cache; see bench/README.md on the "
        "machine's proactive reclaim). "
        "Produced by `python bench/scale.py`; see bench/README.md.",
        "",
        "| database | measure | Postroom | compared with | ratio | goal |",
        "|---|---|---:|---:|---:|---|",
        *[row for result in results for row in summary_rows(result)],
        "",
        "| database | list-by-lead | timed | requests | p50 ms | p99 ms | max ms "
        "| server CPU ms/request | read from disk KiB/request |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
        *[row for result in results for row in latency_rows(result)],
        "",
    ]
    for result in results:
        lines += [f"## {result.backend}", "", "| | |", "|---|---|", *detail_rows(result), ""]
    lines += ["## Query plans of the list-by-lead query", ""]
    lines += [line for result in results for line in plan_blocks(result)]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in machine]
    return "\n".join(lines) + "\n"


# -- command line -----------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="2,000 emails / 20 leads, SQLite")
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--emails", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--create-seconds", type=int, default=20, help="each wrk run")
    parser.add_argument("--list-requests", type=int, default=2000)
    parser.add_argument("--try-index", action="store_true", help="also time SUGGESTED_INDEX")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    return parser.parse_args(argv)


def workload_from(arguments: argparse.Namespace) -> Workload:
    backends = chosen_databases(arguments.databases, arguments.smoke)
    if arguments.smoke:
        return Workload(2000, 20, backends, arguments.seed, 1, 4, 100, 10, 50, try_index=False)
    return Workload(
        emails=arguments.emails,
        leads=arguments.leads,
        backends=backends,
        seed=arguments.seed,
        create_seconds=arguments.create_seconds,
        connections=4,
        list_requests=arguments.list_requests,
        list_warmup=100,
        sql_queries=500,
        try_index=arguments.try_index,
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workload = workload_from(arguments)
    output = arguments.output or (None if arguments.smoke else RESULTS)
    if len(new_id("acti")) != len(fast_id(random.Random(), "acti")):  # noqa: S311
        raise SystemExit("postroom.kit.ids.new_id changed format: update fast_id")
    try:
        results = [
            run_backend(backend, workload, arguments.postgres_url) for backend in workload.backends
        ]
        report = markdown(results, facts(workload, arguments.postgres_url), workload)
    except BenchmarkError as error:
        say(f"benchmark failed: {error}")
        return 2
    publish(report, output)
    problems = [f"{r.backend}: {problem}" for r in results for problem in r.mismatches]
    for problem in problems:
        say(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
