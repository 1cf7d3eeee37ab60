"""The ``postroom`` command: thin wrappers around services and the server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from postroom import migrate
from postroom.config import Settings, get_settings
from postroom.db import Database
from postroom.errors import PostroomError
from postroom.users import service as user_service

app = typer.Typer(
    help="Postroom: a self-hostable, Close-compatible Email activity service.",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.")
users_app = typer.Typer(help="Users.")
keys_app = typer.Typer(help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

T = TypeVar("T")

FIRST_USER_EMAIL = "admin@example.com"
FIRST_USER_NAME = "Postroom Admin"


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; show domain errors as a clean exit."""

    async def main() -> T:
        database = Database(settings.database_url, settings.sqlite_synchronous)
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except PostroomError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    migrate.upgrade(get_settings().database_url)
    typer.echo("database is up to date", err=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email address.")],
    name: Annotated[str, typer.Option(help="First and last name.")],
    org: Annotated[str, typer.Option(help="Organization (created if missing).")] = "Default",
) -> None:
    """Create a user (and the organization when it does not exist yet)."""
    user = run_in_session(
        get_settings(), lambda session: user_service.create_user(session, email, name, org)
    )
    typer.echo(user.id)


@keys_app.command("create")
def keys_create(user: Annotated[str, typer.Option(help="The user's email address.")]) -> None:
    """Create an API key for a user and print only the key."""
    key = run_in_session(get_settings(), lambda session: user_service.create_api_key(session, user))
    typer.echo(key)


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
    typer.echo(f"    curl -u {first_run.api_key}: http://{host}:{port}/api/v1/me/\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the API server (creates a first user and key on an empty database)."""
    import uvicorn

    from postroom.app import create_app

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    print_first_run(settings, host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    app()
