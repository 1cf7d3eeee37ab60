"""The ``postroom`` command: thin wrappers around services and the server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from postroom import migrate
from postroom.accounts import service as account_service
from postroom.config import Settings, get_settings
from postroom.db import Database
from postroom.errors import NotFound, PostroomError
from postroom.kit.logs import log_postroom_at
from postroom.kit.secrets import secret_box
from postroom.kit.sql import CommitOutcomeUnknown
from postroom.transports.security import password_refused_in_clear
from postroom.transports.smtp import SmtpSettings
from postroom.transports.urls import smtp_settings_from_url
from postroom.users import service as user_service

app = typer.Typer(
    help="Postroom: a self-hostable, Close-compatible Email activity service.",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.")
users_app = typer.Typer(help="Users.")
keys_app = typer.Typer(help="API keys.")
accounts_app = typer.Typer(help="Sending accounts (SMTP).")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")

T = TypeVar("T")

FIRST_USER_EMAIL = "admin@example.com"
FIRST_USER_NAME = "Postroom Admin"
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


class CommandFailed(PostroomError):
    """A command that cannot do what was asked; shown as one line on stderr."""


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def database_problem(error: DBAPIError) -> str:
    """One line about a database failure, with the fix when the schema is missing."""
    lines = str(error.orig).strip().splitlines()
    detail = lines[0] if lines else type(error.orig).__name__
    if type(error.orig).__name__ == "UndefinedTable" or detail.startswith("no such table"):
        return f"the database has no schema yet ({detail}); run `postroom db upgrade`"
    return f"database error: {detail}"


def load_settings() -> Settings:
    """The settings from the environment; a value that is refused stops the command with one
    line naming its variable, not a traceback."""
    try:
        return get_settings()
    except ValidationError as error:
        fail("; ".join(_setting_problem(problem) for problem in error.errors()))


def _setting_problem(problem: ErrorDetails) -> str:
    name = "_".join(str(part) for part in problem["loc"]).upper()
    return f"POSTROOM_{name}: {problem['msg']}"


@contextmanager
def clean_exit() -> Iterator[None]:
    """Show expected failures (domain and database errors) as one line, not a traceback."""
    try:
        yield
    except PostroomError as error:
        fail(error.message)
    except migrate.UnusableDatabase as error:
        fail(str(error))
    except DBAPIError as error:
        fail(database_problem(error))
    except CommitOutcomeUnknown:
        fail("The database connection was lost while saving: check whether the change was made.")


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; show domain errors as a clean exit."""

    async def main() -> T:
        database = Database(settings.database_url, settings.sqlite_synchronous)
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    with clean_exit():
        return asyncio.run(main())


def upgrade_schema(settings: Settings) -> None:
    with clean_exit():
        migrate.upgrade(settings.database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    upgrade_schema(load_settings())
    typer.echo("database is up to date", err=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email address.")],
    name: Annotated[str, typer.Option(help="First and last name.")],
    org: Annotated[
        str,
        typer.Option(help="Organization, by the name it was created under (created if missing)."),
    ] = "Default",
) -> None:
    """Create a user (and the organization when it does not exist yet)."""
    user = run_in_session(
        load_settings(), lambda session: user_service.create_user(session, email, name, org)
    )
    typer.echo(user.id)


@keys_app.command("create")
def keys_create(user: Annotated[str, typer.Option(help="The user's email address.")]) -> None:
    """Create an API key for a user and print only the key."""
    key = run_in_session(load_settings(), lambda session: create_key(session, user))
    typer.echo(key)


async def create_key(session: AsyncSession, user_email: str) -> str:
    try:
        return await user_service.create_api_key(session, user_email)
    except NotFound as error:
        message = f"no user with email {user_email}; create one with `postroom users create`"
        raise CommandFailed(message) from error


def reachable_url(host: str, port: int) -> str:
    """The base URL a local client uses for a server bound to ``host``."""
    host = _WILDCARD_HOSTS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def print_first_run(settings: Settings, host: str, port: int) -> None:
    first_run = run_in_session(
        settings,
        lambda session: user_service.bootstrap_first_run(
            session, FIRST_USER_EMAIL, FIRST_USER_NAME
        ),
    )
    if first_run is None:
        return
    typer.echo(f"\nFirst start: created user {first_run.user_email} with API key\n")
    typer.echo(f"    {first_run.api_key}\n")
    typer.echo("Keep it: it is stored hashed and cannot be shown again. Try:\n")
    typer.echo(f"    curl -u {first_run.api_key}: {reachable_url(host, port)}/api/v1/me/\n")


@accounts_app.command("add")
def accounts_add(
    user: Annotated[str, typer.Option(help="The user's email address.")],
    smtp_url: Annotated[str, typer.Option(help="smtp://USER:PASS@HOST:PORT")],
    starttls: Annotated[bool, typer.Option("--starttls", help="Upgrade with STARTTLS.")] = False,
    tls: Annotated[bool, typer.Option("--tls", help="Implicit TLS (SMTPS).")] = False,
    default: Annotated[bool, typer.Option("--default", help="The user's default.")] = False,
) -> None:
    """Add an SMTP sending account for a user; the password is stored encrypted."""
    settings = load_settings()
    security = "tls" if tls else "starttls" if starttls else None
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    box = secret_box(secret, settings.data_dir)
    account = run_in_session(
        settings,
        lambda session: account_service.add_account(
            session, box, user, smtp_url, security, default
        ),
    )
    typer.echo(account.id)
    warn_if_password_refused(smtp_settings_from_url(smtp_url, security))


def warn_about_default_route(settings: Settings) -> None:
    """The same warning for ``POSTROOM_SMTP_URL`` when the server or a worker starts."""
    url = settings.smtp_url.get_secret_value()
    if url.startswith(("smtp:", "smtps:")):
        warn_if_password_refused(smtp_settings_from_url(url))


def warn_if_password_refused(settings: SmtpSettings) -> None:
    """One line on stderr when these settings could never log in (``password_refused_in_clear``)."""
    warning = password_refused_in_clear(settings)
    if warning is not None:
        typer.echo(warning, err=True)


@app.command()
def worker() -> None:
    """Run a dispatcher alone (no API): sends due emails and webhooks until SIGTERM."""
    settings = load_settings()
    log_postroom_at(settings.log_level)
    upgrade_schema(settings)
    warn_about_default_route(settings)
    with asyncio.Runner(loop_factory=fast_event_loop()) as runner:
        runner.run(run_worker(settings))


def fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (uvicorn's extra brings it, and ``serve``
    runs on it already): the dispatcher's SMTP lanes and database hand-offs cost about 9 %
    less CPU a delivery on it. None means asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        return None
    return uvloop.new_event_loop


async def run_worker(settings: Settings) -> None:
    from postroom.app import build_dispatcher, freeze_startup_objects
    from postroom.webhooks.sender import build_webhook_sender

    database = Database(settings.database_url, settings.sqlite_synchronous)
    dispatcher = build_dispatcher(database, settings)
    sender = build_webhook_sender(database, settings)
    freeze_startup_objects()

    def stop() -> None:
        dispatcher.stop()
        sender.stop()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(dispatcher.run())
            group.create_task(sender.run())
    finally:
        await database.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dispatcher: Annotated[
        bool | None,
        typer.Option(
            "--dispatcher/--no-dispatcher",
            help="Send emails and webhooks in this process (default: POSTROOM_RUN_DISPATCHER).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the API server (creates a first user and key on an empty database)."""
    import uvicorn

    from postroom.app import create_app

    settings = load_settings()
    if dispatcher is not None:
        settings = settings.model_copy(update={"run_dispatcher": dispatcher})
    log_postroom_at(settings.log_level)
    upgrade_schema(settings)
    warn_about_default_route(settings)
    print_first_run(settings, host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    app()
