"""The real ``postroom`` command, run as a subprocess against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from postroom import cli, migrate
from postroom.cli import reachable_url
from postroom.config import Settings
from postroom.db import Database
from postroom.kit.ids import new_id
from postroom.users import service as user_service
from tests.databases import sqlite_url

POSTROOM = Path(sys.executable).with_name("postroom")
KEY_LINE = re.compile(r"^api_[A-Za-z0-9]+\n$")
TIMEOUT = 60


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def environment(database_url: str, folder: Path) -> dict[str, str]:
    return {**os.environ, "POSTROOM_DATABASE_URL": database_url, "POSTROOM_DATA_DIR": str(folder)}


async def postroom(database_url: str, folder: Path, *args: str) -> Run:
    """Run ``postroom ARGS`` to completion; kill it if it hangs."""
    process = await asyncio.create_subprocess_exec(
        POSTROOM,
        *args,
        env=environment(database_url, folder),
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def assert_clean_failure(run: Run) -> None:
    assert run.returncode != 0
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr


def unique_email() -> str:
    return f"{new_id('cli').lower()}@example.com"


def sqlite_rows(url: str, query: str, *params: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        return connection.execute(query, params).fetchall()


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "db")


@pytest.fixture
def migrated_sqlite(empty_sqlite: str) -> str:
    migrate.upgrade(empty_sqlite)
    return empty_sqlite


async def seed_user(database_url: str, email: str, organization: str = "Default") -> None:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            await user_service.create_user(session, email, "Seed User", organization)
    finally:
        await database.dispose()


async def test_db_upgrade_creates_the_schema(empty_sqlite: str, tmp_path: Path) -> None:
    run = await postroom(empty_sqlite, tmp_path, "db", "upgrade")
    assert run.returncode == 0, run.stderr
    tables = {row[0] for row in sqlite_rows(empty_sqlite, "SELECT name FROM sqlite_master")}
    assert {"alembic_version", "organizations", "users", "api_keys"} <= tables


async def test_users_create_prints_the_id_and_uses_the_default_organization(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    email = unique_email()
    run = await postroom(
        migrated_sqlite, tmp_path, "users", "create", "--email", email, "--name", "Nora Mills"
    )
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"user_[A-Za-z0-9]+\n", run.stdout), run.stdout
    rows = sqlite_rows(
        migrated_sqlite,
        "SELECT u.email, u.first_name, u.last_name, o.name FROM users u"
        " JOIN organizations o ON o.id = u.organization_id WHERE u.id = ?",
        run.stdout.strip(),
    )
    assert rows == [(email, "Nora", "Mills", "Default")]


async def test_users_create_with_org_joins_that_organization(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    await seed_user(migrated_sqlite, unique_email(), "Acme Sales")
    run = await postroom(
        migrated_sqlite,
        tmp_path,
        *("users", "create", "--email", unique_email(), "--name", "Second User"),
        *("--org", "Acme Sales"),
    )
    assert run.returncode == 0, run.stderr
    rows = sqlite_rows(
        migrated_sqlite,
        "SELECT o.name FROM users u JOIN organizations o ON o.id = u.organization_id",
    )
    assert rows == [("Acme Sales",), ("Acme Sales",)]
    assert sqlite_rows(migrated_sqlite, "SELECT name FROM organizations") == [("Acme Sales",)]


async def test_keys_create_prints_only_a_key_that_authenticates(
    database_url: str, database: Database, app: FastAPI, tmp_path: Path
) -> None:
    email = unique_email()
    async with database.transaction() as session:
        await user_service.create_user(session, email, "Kay Holder", new_id("org"))
    run = await postroom(database_url, tmp_path, "keys", "create", "--user", email)
    assert run.returncode == 0, run.stderr
    assert KEY_LINE.match(run.stdout), run.stdout
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver/api/v1",
        auth=(run.stdout.strip(), ""),
    ) as client:
        response = await client.get("/me/")
    assert response.status_code == 200, response.text
    assert response.json()["email"] == email


async def test_duplicate_user_fails_cleanly(migrated_sqlite: str, tmp_path: Path) -> None:
    email = unique_email()
    await seed_user(migrated_sqlite, email)
    run = await postroom(
        migrated_sqlite, tmp_path, "users", "create", "--email", email, "--name", "Again"
    )
    assert_clean_failure(run)
    assert "already exists" in run.stderr


async def test_key_for_unknown_user_fails_cleanly(migrated_sqlite: str, tmp_path: Path) -> None:
    run = await postroom(
        migrated_sqlite, tmp_path, "keys", "create", "--user", "nobody@example.com"
    )
    assert_clean_failure(run)
    assert "no user with email nobody@example.com" in run.stderr


async def test_users_create_before_db_upgrade_says_to_upgrade(
    empty_sqlite: str, tmp_path: Path
) -> None:
    run = await postroom(
        empty_sqlite, tmp_path, "users", "create", "--email", unique_email(), "--name", "Early"
    )
    assert_clean_failure(run)
    assert "postroom db upgrade" in run.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for_port(port: int) -> None:
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def stop(process: asyncio.subprocess.Process) -> None:
    """Ask the server to stop; kill it if it does not within a few seconds."""
    if process.returncode is None:
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def read_until_curl_line(stream: asyncio.StreamReader) -> list[str]:
    lines: list[str] = []
    while not lines or "curl" not in lines[-1]:
        line = await stream.readline()
        assert line, f"no curl line in {lines}"
        lines.append(line.decode())
    return lines


async def test_serve_on_empty_database_prints_a_working_first_key(
    empty_sqlite: str, tmp_path: Path
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(POSTROOM, "serve", "--host", "127.0.0.1", "--port", str(port)),
        env=environment(empty_sqlite, tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines = await asyncio.wait_for(read_until_curl_line(process.stdout), TIMEOUT)
        await asyncio.wait_for(wait_for_port(port), TIMEOUT)
        keys = [line.strip() for line in lines if line.strip().startswith("api_")]
        assert len(keys) == 1, lines
        url = f"http://127.0.0.1:{port}/api/v1/me/"
        assert lines[-1].strip() == f"curl -u {keys[0]}: {url}"
        async with httpx.AsyncClient(auth=(keys[0], ""), trust_env=False) as client:
            response = await client.get(url)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "admin@example.com"
    finally:
        await stop(process)


def test_curl_line_uses_a_reachable_address_for_wildcard_and_ipv6_hosts() -> None:
    assert reachable_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104
    assert reachable_url("::", 8000) == "http://[::1]:8000"
    assert reachable_url("::1", 8000) == "http://[::1]:8000"
    assert reachable_url("mail.example.com", 80) == "http://mail.example.com:80"


async def add_account(database_url: str, folder: Path, email: str, *options: str) -> Run:
    await seed_user(database_url, email)
    return await postroom(database_url, folder, "accounts", "add", "--user", email, *options)


async def test_accounts_add_warns_when_a_password_would_go_unencrypted_over_the_network(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    url = "smtp://nora:s3cret@192.0.2.25:25"
    run = await add_account(migrated_sqlite, tmp_path, unique_email(), "--smtp-url", url)
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"\w+_[A-Za-z0-9]+\n", run.stdout), run.stdout
    assert run.stderr.startswith("warning: 192.0.2.25 is not a loopback address")
    assert "every email sent this way will end in error" in run.stderr
    assert "s3cret" not in run.stderr


@pytest.mark.parametrize(
    "options",
    [
        ("--smtp-url", "smtp://nora:s3cret@192.0.2.25:587", "--starttls"),
        ("--smtp-url", "smtp://nora:s3cret@192.0.2.25:465", "--tls"),
        ("--smtp-url", "smtp://nora:s3cret@127.0.0.1:25"),
        ("--smtp-url", "smtp://nora:s3cret@localhost:25"),
        ("--smtp-url", "smtp://192.0.2.25:25"),
    ],
    ids=["starttls", "tls", "loopback-address", "localhost", "no-password"],
)
async def test_accounts_add_is_quiet_when_the_password_is_encrypted_local_or_absent(
    migrated_sqlite: str, tmp_path: Path, options: tuple[str, ...]
) -> None:
    run = await add_account(migrated_sqlite, tmp_path, unique_email(), *options)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


async def test_worker_warns_at_start_when_the_default_route_would_send_a_password_in_clear(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    url = "smtp://relay:s3cret@192.0.2.25:25"
    process = await asyncio.create_subprocess_exec(
        POSTROOM,
        "worker",
        env={**environment(migrated_sqlite, tmp_path), "POSTROOM_SMTP_URL": url},
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), TIMEOUT)
        assert line.decode().startswith("warning: 192.0.2.25 is not a loopback address")
        assert b"s3cret" not in line
    finally:
        await stop(process)


@pytest.mark.parametrize(
    ("environment_value", "flags", "runs_dispatcher"),
    [
        (None, (), True),
        ("false", (), False),
        ("false", ("--dispatcher",), True),
        ("true", ("--no-dispatcher",), False),
    ],
)
def test_serve_runs_a_dispatcher_as_the_flag_says_else_as_the_environment_says(
    migrated_sqlite: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment_value: str | None,
    flags: tuple[str, ...],
    runs_dispatcher: bool,
) -> None:
    """``POSTROOM_RUN_DISPATCHER=false`` is obeyed unless ``--dispatcher`` says otherwise (in
    process: ``uvicorn.run`` only records the app it was given)."""
    for name, value in environment(migrated_sqlite, tmp_path).items():
        monkeypatch.setenv(name, value)
    if environment_value is None:
        monkeypatch.delenv("POSTROOM_RUN_DISPATCHER", raising=False)
    else:
        monkeypatch.setenv("POSTROOM_RUN_DISPATCHER", environment_value)
    monkeypatch.setattr(cli, "get_settings", Settings)
    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_options: served.append(app))
    # In process, the log set-up would outlive the test (a handler on CliRunner's stderr).
    monkeypatch.setattr(cli, "log_postroom_at", lambda _level: None)

    result = CliRunner().invoke(cli.app, ["serve", *flags])

    assert result.exit_code == 0, result.output
    assert served[0].state.settings.run_dispatcher is runs_dispatcher


async def test_a_refused_setting_stops_a_command_with_one_line_naming_its_variable(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        *(POSTROOM, "keys", "create", "--user", "nobody@example.com"),
        env={**environment(migrated_sqlite, tmp_path), "POSTROOM_LOG_LEVEL": "loud"},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    run = Run(process.returncode or 0, stdout.decode(), stderr.decode())
    assert_clean_failure(run)
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error: POSTROOM_LOG_LEVEL: ")
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in run.stderr


async def read_until(stream: asyncio.StreamReader, text: str) -> str:
    while True:
        line = (await stream.readline()).decode()
        assert line, f"the stream ended before a line with {text!r}"
        if text in line:
            return line


async def test_serve_logs_a_failed_delivery_at_the_configured_level(
    empty_sqlite: str, tmp_path: Path
) -> None:
    port, closed_smtp_port = free_port(), free_port()
    settings = {
        "POSTROOM_SMTP_URL": f"smtp://127.0.0.1:{closed_smtp_port}",
        "POSTROOM_LOG_LEVEL": "info",
    }
    process = await asyncio.create_subprocess_exec(
        *(POSTROOM, "serve", "--host", "127.0.0.1", "--port", str(port)),
        env={**environment(empty_sqlite, tmp_path), **settings},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        lines = await asyncio.wait_for(read_until_curl_line(process.stdout), TIMEOUT)
        await asyncio.wait_for(wait_for_port(port), TIMEOUT)
        [key] = [line.strip() for line in lines if line.strip().startswith("api_")]
        base = f"http://127.0.0.1:{port}/api/v1"
        async with httpx.AsyncClient(base_url=base, auth=(key, ""), trust_env=False) as client:
            lead = (await client.post("/lead/", json={"name": "Acme"})).json()
            email = await client.post(
                "/activity/email/",
                json={
                    "lead_id": lead["id"],
                    "status": "outbox",
                    "sender": "admin@example.com",
                    "to": ["buyer@example.com"],
                    "subject": "Hello",
                    "body_text": "Hi",
                },
            )
        assert email.status_code == 200, email.text
        line = await asyncio.wait_for(read_until(process.stderr, "delivery of"), TIMEOUT)
        assert f" INFO postroom.dispatch: delivery of {email.json()['id']} failed:" in line
        assert "ConnectionFailed" in line
    finally:
        await stop(process)


async def test_accounts_add_refuses_url_options_an_account_would_not_keep(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    url = "smtp://nora:s3cret@127.0.0.1:2525?connections=1&verify=0"
    run = await add_account(migrated_sqlite, tmp_path, unique_email(), "--smtp-url", url)
    assert_clean_failure(run)
    assert "an account keeps no URL option but ?starttls and ?tls" in run.stderr
    assert "(?connections, ?verify given)" in run.stderr
    assert sqlite_rows(migrated_sqlite, "SELECT id FROM email_accounts") == []


async def test_accounts_add_takes_its_security_from_the_url(
    migrated_sqlite: str, tmp_path: Path
) -> None:
    url = "smtp://nora:s3cret@127.0.0.1:587?starttls=1"
    run = await add_account(migrated_sqlite, tmp_path, unique_email(), "--smtp-url", url)
    assert run.returncode == 0, run.stderr
    rows = sqlite_rows(migrated_sqlite, "SELECT smtp_security, smtp_port FROM email_accounts")
    assert rows == [("starttls", 587)]
