"""Secrets at rest and in what Postroom shows (reliability point 5).

- API keys are stored as their SHA-256 only; SMTP passwords and webhook signature keys only
  sealed, so none of them is found in clear in any column of any table.
- After a full scenario (a user and key made by the service, SMTP accounts with passwords,
  a webhook, emails sent and their webhook delivered, a wrong key, a 400 and a 404), run with
  every logger at DEBUG (SQL statements and their parameters included), no secret is in a log
  record, a response body or header, ``/openapi.json`` or the database.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI
from sqlalchemy import Select, inspect, literal_column, select, table

from postroom.accounts import service as account_service
from postroom.config import Settings
from postroom.db import Database
from postroom.kit.secrets import SecretBox
from postroom.models import ApiKey, EmailAccount, WebhookSubscription
from postroom.users.auth import hash_api_key
from postroom.webhooks.service import sealing_box
from tests.conftest import Tenant
from tests.dispatch.conftest import DeliveryHarness, delivery_database_url, eventually, harness
from tests.helpers import add_sending_account, create_lead, ok
from tests.smtp_server import SmtpServer, free_port
from tests.webhooks.conftest import Receiver

__all__ = ["delivery_database_url", "harness"]

PUBLIC_WEBHOOK_URL = "https://93.184.216.34/hooks/secrets"
"""A public IP literal: the webhook URL check needs no DNS for it."""
TEST_SMTP_SERVER_LOGGER = "mail.log"
"""aiosmtpd's logger: the test's SMTP server, not Postroom, writes there."""


# -- finding secrets -----------------------------------------------------------------------------


async def table_names(database: Database) -> list[str]:
    async with database.transaction() as session:
        names: list[str] = await session.run_sync(
            lambda sync: inspect(sync.connection()).get_table_names()
        )
    return names


async def stored_cells(database: Database) -> list[tuple[str, str]]:
    """(table, text of one cell) for every cell of every table of the database."""
    found: list[tuple[str, str]] = []
    for name in await table_names(database):
        async with database.transaction() as session:
            statement: Select[Any] = select(literal_column("*")).select_from(table(name))
            rows = (await session.execute(statement)).all()
            found += [(name, as_text(cell)) for row in rows for cell in row]
    return found


def as_text(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


async def secrets_in_database(database: Database, named: dict[str, str]) -> list[str]:
    """``secret name in table`` for each secret found in clear in some cell."""
    return sorted(
        {
            f"{secret} in {name}"
            for name, text in await stored_cells(database)
            for secret, value in named.items()
            if value in text
        }
    )


def found_in(text: str, named: dict[str, str]) -> list[str]:
    return sorted(secret for secret, value in named.items() if value in text)


# -- at rest -------------------------------------------------------------------------------------


async def test_api_keys_are_stored_only_as_their_hash(tenant: Tenant, database: Database) -> None:
    async with database.transaction() as session:
        statement = select(ApiKey.key_hash).where(ApiKey.user_id == tenant.user_id)
        hashes = (await session.execute(statement)).scalars().all()
    assert hashes == [hashlib.sha256(tenant.api_key.encode()).hexdigest()]
    assert hashes == [hash_api_key(tenant.api_key)]
    assert await secrets_in_database(database, {"API key": tenant.api_key}) == []


async def test_smtp_passwords_are_stored_only_sealed(tenant: Tenant, database: Database) -> None:
    password = f"p@ss:w/rd %{secrets.token_hex(8)}"
    url = f"smtp://mailer:{quote(password, safe='')}@127.0.0.1:2525"
    account_id = await add_sending_account(database, tenant.user_email, url)
    async with database.transaction() as session:
        account = await session.get(EmailAccount, account_id)
        assert account is not None
        assert account.password_sealed is not None
        assert SecretBox("test-secret").open(account.password_sealed) == password
    named = {"password": password, "password as in the URL": quote(password, safe="")}
    assert await secrets_in_database(database, named) == []
    shown = await tenant.client.get(f"/connected_account/{account_id}/")
    assert shown.status_code == 200, shown.text
    assert found_in(shown.text, named) == []


async def test_webhook_signature_keys_are_stored_only_sealed(
    tenant: Tenant, database: Database, settings: Settings
) -> None:
    body = {"url": PUBLIC_WEBHOOK_URL, "events": [{"object_type": "lead", "action": "created"}]}
    created = await tenant.client.post("/webhook/", json=body)
    assert created.status_code == 201, created.text
    key, subscription_id = created.json()["signature_key"], created.json()["id"]
    async with database.transaction() as session:
        subscription = await session.get(WebhookSubscription, subscription_id)
        assert subscription is not None
        assert sealing_box(settings).open(subscription.signature_key_sealed) == key
    assert await secrets_in_database(database, {"signature key": key}) == []
    for path in (f"/webhook/{subscription_id}/", "/webhook/"):
        shown = await tenant.client.get(path)
        assert shown.status_code == 200, shown.text
        assert key not in shown.text


# -- a full scenario -----------------------------------------------------------------------------


class AuthenticatingSmtpServer(SmtpServer):
    """The tests' SMTP server, offering AUTH (without TLS: loopback only) to given logins."""

    def __init__(self, logins: dict[str, str]) -> None:
        super().__init__()
        self.accepted_logins = logins
        self.authenticated: list[str] = []
        unused = self._controller
        unused.loop.close()
        self._controller = Controller(
            unused.handler,
            hostname="127.0.0.1",
            port=self.port,
            data_size_limit=50_000_000,
            authenticator=self.authenticate,
            auth_require_tls=False,
        )

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.accepted_logins.get(login) == password:
                self.authenticated.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def login_url(self, login: str, password: str) -> str:
        return f"smtp://{login}:{quote(password, safe='')}@127.0.0.1:{self.port}"


@pytest.fixture
def named_secrets() -> dict[str, str]:
    """The scenario's secrets by name; the API key and the signature key come later."""
    return {
        "wrong API key": f"api_{secrets.token_urlsafe(24)}",
        "default SMTP password": f"default-{secrets.token_urlsafe(12)}",
        "account SMTP password": f"account-{secrets.token_urlsafe(12)}",
        "refused SMTP password": f"refused-{secrets.token_urlsafe(12)}",
        "POSTROOM_SECRET_KEY": f"server-secret-{secrets.token_urlsafe(16)}",
    }


@pytest.fixture
def mail_server(named_secrets: dict[str, str]) -> Iterator[AuthenticatingSmtpServer]:
    logins = {
        "default": named_secrets["default SMTP password"],
        "account": named_secrets["account SMTP password"],
    }
    server = AuthenticatingSmtpServer(logins)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    created = Receiver(free_port())
    created.up()
    yield created
    created.down()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (SQLAlchemy sets its own to WARNING: it is raised too)."""
    caplog.set_level(logging.DEBUG)
    for name in [*logging.root.manager.loggerDict, "sqlalchemy", "sqlalchemy.engine"]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


class Scenario:
    """Requests of the scenario, every response kept. The first email goes out before the
    user has an account (afterwards the first account is the user's default)."""

    def __init__(self, app: FastAPI, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant
        self.responses: list[httpx.Response] = []
        self.handing_out: httpx.Response | None = None
        """The one response that shows a secret: the webhook's create, with its key."""

    async def call(
        self, method: str, url: str, client: httpx.AsyncClient | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = await (client or self.tenant.client).request(method, url, **kwargs)
        self.responses.append(response)
        return response

    async def sent(self, email_id: str, statuses: Sequence[str] = ("sent",)) -> dict[str, Any]:
        found: dict[str, Any] = {}

        async def done() -> bool:
            found.update(ok(await self.tenant.client.get(f"/activity/email/{email_id}/")))
            return found["status"] in statuses

        await eventually(done, within=15)
        return found


async def send_outbox(scenario: Scenario, lead_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead_id, "status": "outbox", "sender": scenario.tenant.user_email,
        "to": ["bob@buyer.example.com"], "subject": "Numbers", "body_text": "Hi",
        "body_html": "<p>Hi</p>", **fields,
    }  # fmt: skip
    return ok(await scenario.call("POST", "/activity/email/", json=body))


async def add_account(app: FastAPI, user_email: str, url: str, secret_key: str) -> str:
    """An SMTP account through the service, as ``postroom accounts add`` does."""
    database: Database = app.state.database
    async with database.transaction() as session:
        account = await account_service.add_account(session, SecretBox(secret_key), user_email, url)
    return account.id


@pytest.fixture
async def full_scenario(
    harness: DeliveryHarness,
    mail_server: AuthenticatingSmtpServer,
    receiver: Receiver,
    named_secrets: dict[str, str],
    debug_logs: pytest.LogCaptureFixture,
) -> tuple[Scenario, dict[str, str]]:
    named = named_secrets
    server_secret = named["POSTROOM_SECRET_KEY"]
    app, tenant = await harness.start(
        mail_server.login_url("default", named["default SMTP password"]),
        secret_key=server_secret, webhooks_allow_private=True, dispatch_poll_seconds=0.2,
    )  # fmt: skip
    named["API key"] = tenant.api_key
    scenario = Scenario(app, tenant)
    await play(scenario, named, mail_server, receiver)
    return scenario, named


async def play(
    scenario: Scenario,
    named: dict[str, str],
    mail_server: AuthenticatingSmtpServer,
    receiver: Receiver,
) -> None:
    app, tenant = scenario.app, scenario.tenant
    webhook = await scenario.call(
        "POST", "/webhook/",
        json={"url": receiver.url, "events": [{"object_type": "activity.email", "action": "sent"}]},
    )  # fmt: skip
    assert webhook.status_code == 201, webhook.text
    scenario.handing_out = webhook
    named["webhook signature key"] = webhook.json()["signature_key"]
    lead = await create_lead(tenant.client)
    by_default = await send_outbox(scenario, lead["id"])
    await scenario.sent(by_default["id"])
    server_secret = named["POSTROOM_SECRET_KEY"]
    account = await add_account(
        app, tenant.user_email, mail_server.login_url("account", named["account SMTP password"]),
        server_secret,
    )  # fmt: skip
    refused = await add_account(
        app, tenant.user_email, mail_server.login_url("account", named["refused SMTP password"]),
        server_secret,
    )  # fmt: skip
    by_account = await send_outbox(scenario, lead["id"], email_account_id=account)
    by_refused = await send_outbox(scenario, lead["id"], email_account_id=refused)
    await scenario.sent(by_account["id"])
    failed = await scenario.sent(by_refused["id"], ("error",))
    assert failed["send_attempts"], failed
    assert sorted(mail_server.authenticated) == ["account", "default"]
    await eventually(lambda: _delivered(receiver, 2), within=15)
    check_signature(receiver, named["webhook signature key"])
    await failures(scenario, named, webhook.json()["id"], account)


async def _delivered(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests()) >= count


def check_signature(receiver: Receiver, key: str) -> None:
    """The deliveries were signed with the key handed out (so it was really used)."""
    for request in receiver.requests():
        message = request.headers["close-sig-timestamp"].encode() + request.body
        expected = hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()
        assert request.headers["close-sig-hash"] == expected


async def failures(
    scenario: Scenario, named: dict[str, str], webhook_id: str, account: str
) -> None:
    """A 401 with a wrong key, 400s and 404s, and reads of the objects that hold secrets."""
    wrong = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=scenario.app), base_url="http://testserver/api/v1",
        auth=(named["wrong API key"], ""),
    )  # fmt: skip
    async with wrong:
        assert (await scenario.call("GET", "/me/", client=wrong)).status_code == 401
        bearer = {"Authorization": f"Bearer {named['wrong API key']}"}
        assert (
            await scenario.call("GET", "/lead/", client=wrong, headers=bearer)
        ).status_code == 401
    bad_url = {"url": "ftp://nowhere"}
    assert (await scenario.call("PUT", f"/webhook/{webhook_id}/", json=bad_url)).status_code == 400
    bad_email = {"lead_id": "lead_missing", "status": "outbox", "sender": "not an address"}
    assert (await scenario.call("POST", "/activity/email/", json=bad_email)).status_code == 400
    assert (await scenario.call("GET", "/webhook/whsub_missing/")).status_code == 404
    assert (await scenario.call("GET", "/connected_account/emailacct_missing/")).status_code == 404
    for path in (f"/webhook/{webhook_id}/", "/webhook/", f"/connected_account/{account}/",
                 "/connected_account/", "/me/", "/event/"):  # fmt: skip
        assert (await scenario.call("GET", path)).status_code == 200
    assert (await scenario.call("GET", "http://testserver/openapi.json")).status_code == 200


def log_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``: message, traceback, extra fields."""
    formatted = logging.Formatter().format(record)
    return formatted + repr(record.__dict__)


async def test_no_secret_is_in_logs_responses_openapi_or_the_database_after_a_full_scenario(
    full_scenario: tuple[Scenario, dict[str, str]], debug_logs: pytest.LogCaptureFixture
) -> None:
    scenario, named = full_scenario
    logged = debug_logs.get_records("setup") + debug_logs.get_records("call")
    records = [r for r in logged if not r.name.startswith(TEST_SMTP_SERVER_LOGGER)]
    texts = [log_text(record) for record in records]
    key_hash = hash_api_key(named["API key"])
    assert any(key_hash in text for text in texts), "SQL parameters are logged (key lookups)"
    assert sorted({secret for text in texts for secret in found_in(text, named)}) == []
    for response in scenario.responses:
        if response is scenario.handing_out:
            continue
        shown = f"{response.status_code} {response.headers} {response.text}"
        assert found_in(shown, named) == [], response.request.url
    database: Database = scenario.app.state.database
    assert await secrets_in_database(database, named) == []
