"""A real Postroom server in a subprocess, for tests that talk to it over TCP.

``live_server(database_url, folder)`` starts ``postroom serve`` on a free loopback port, waits
until the port answers, creates a user and an API key with the CLI, and always stops the server
(SIGTERM, then SIGKILL) when the ``with`` block ends. The server's output goes to a log file in
``folder``; it is shown when the server dies or does not start in time.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0
POLL_INTERVAL = 0.05
USER_NAME = "Live Tester"


class LiveServerError(RuntimeError):
    """The server or a CLI command failed; the message carries their output."""


@dataclass(frozen=True)
class LiveServer:
    """A running server and the credentials of the user created on it."""

    port: int
    base_url: str
    user_email: str
    user_name: str
    organization_name: str
    api_key: str
    data_dir: Path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(database_url: str, folder: Path, port: int) -> dict[str, str]:
    """The caller's environment without its POSTROOM_ settings, plus the server's own."""
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith("POSTROOM_")
    }
    return {
        **inherited,
        "POSTROOM_DATABASE_URL": database_url,
        "POSTROOM_DATA_DIR": str(folder / "data"),
        "POSTROOM_PUBLIC_URL": f"http://{HOST}:{port}",
        "POSTROOM_LOG_LEVEL": "WARNING",
    }


def postroom_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "postroom.cli", *arguments]


def run_cli(environment: Mapping[str, str], folder: Path, *arguments: str) -> str:
    """Run one ``postroom`` command to completion and return its stripped stdout."""
    completed = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        postroom_command(*arguments),
        env=dict(environment),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise LiveServerError(
            f"postroom {' '.join(arguments)} exited with {completed.returncode}:\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return completed.stdout.strip()


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=POLL_INTERVAL * 4):
            return True
    except OSError:
        return False


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Return once ``port`` accepts connections; raise with the log if the server dies first."""
    deadline = time.monotonic() + START_TIMEOUT
    while not port_answers(port):
        if process.poll() is not None:
            raise LiveServerError(
                f"postroom serve exited with {process.returncode} before listening:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        if time.monotonic() > deadline:
            raise LiveServerError(
                f"postroom serve did not listen on port {port} within {START_TIMEOUT} s:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        time.sleep(POLL_INTERVAL)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``STOP_TIMEOUT``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(environment: Mapping[str, str], folder: Path, port: int) -> Iterator[None]:
    """``postroom serve`` on ``port`` for the duration of the block; output in ``server.log``."""
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            postroom_command("serve", "--host", HOST, "--port", str(port)),
            env=dict(environment),
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_listening(process, port, log_path)
            yield
        finally:
            stop(process)


def create_user_and_key(environment: Mapping[str, str], folder: Path) -> tuple[str, str, str]:
    """A new user in a new organization; returns its email, organization name and API key."""
    tail = secrets.token_hex(4)
    email = f"live-{tail}@example.com"
    organization = f"Live Org {tail}"
    user_options = ["--email", email, "--name", USER_NAME, "--org", organization]
    run_cli(environment, folder, "users", "create", *user_options)
    api_key = run_cli(environment, folder, "keys", "create", "--user", email)
    return email, organization, api_key


@contextmanager
def live_server(database_url: str, folder: Path) -> Iterator[LiveServer]:
    """A running server on an already migrated database, with a fresh user and key."""
    port = free_port()
    environment = server_environment(database_url, folder, port)
    with running_server(environment, folder, port):
        email, organization, api_key = create_user_and_key(environment, folder)
        yield LiveServer(
            port=port,
            base_url=f"http://{HOST}:{port}/api/v1/",
            user_email=email,
            user_name=USER_NAME,
            organization_name=organization,
            api_key=api_key,
            data_dir=folder / "data",
        )
