"""What a benchmark runs beside itself, and always stops again: an SMTP sink that notes when
each message arrived, a throw-away database, ``postroom serve`` in a subprocess, and the CLI.

Modelled on ``tests/live.py``, without importing the test suite.
"""

from __future__ import annotations

import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from psycopg import sql
from sqlalchemy.engine import make_url

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0


STARTED = time.monotonic()
LOAD_AT_START = os.getloadavg()
"""The machine's load when the benchmark began (reports warn when it was busy)."""


def say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 - a command-line report


def progress(text: str) -> None:
    say(f"[{time.monotonic() - STARTED:6.1f} s] {text}")


def chosen_databases(listed: str | None, smoke: bool) -> tuple[str, ...]:
    """``--databases`` (comma-separated); by default SQLite for a smoke run, else both."""
    backends = tuple((listed or ("sqlite" if smoke else "sqlite,postgres")).split(","))
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        raise SystemExit(f"unknown database(s) {sorted(unknown)}: use sqlite and/or postgres")
    return backends


class BenchmarkError(RuntimeError):
    """The benchmark could not run (a server did not start, a request failed ...)."""


# -- the SMTP sink -------------------------------------------------------------------------


class SinkHandler:
    """aiosmtpd handler: note the wall-clock time each message's data arrived, by Message-ID."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        received_at = time.time()
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        message_id = str(BytesHeaderParser().parsebytes(data)["Message-ID"]).strip()
        with self.lock:
            self.arrivals.append((message_id, received_at))
        return "250 Message accepted"

    def snapshot(self) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.arrivals)


@contextmanager
def smtp_sink() -> Iterator[tuple[SinkHandler, int]]:
    """A running sink on a free loopback port (its own thread and event loop)."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# -- databases -----------------------------------------------------------------------------


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A throw-away database next to the admin one, dropped afterwards."""
    admin = make_url(admin_url)
    name = f"postroom_bench_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise BenchmarkError(f"PostgreSQL at {admin_url} is not usable: {error}") from error
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
            drop = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
            conn.execute(sql.SQL(drop).format(sql.Identifier(name)))


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(libpq(admin_url), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@contextmanager
def database_url(backend: str, folder: Path, postgres_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'postroom.db'}"
        return
    with fresh_postgres_database(postgres_url) as url:
        yield url


# -- the server and the CLI ----------------------------------------------------------------


def server_environment(database_url: str, folder: Path, port: int, smtp_url: str) -> dict[str, str]:
    """This process's environment without its POSTROOM_ settings, plus the server's own."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
    return {
        **inherited,
        "POSTROOM_DATABASE_URL": database_url,
        "POSTROOM_DATA_DIR": str(folder / "data"),
        "POSTROOM_PUBLIC_URL": f"http://{HOST}:{port}",
        "POSTROOM_SMTP_URL": smtp_url,
        "POSTROOM_LOG_LEVEL": "WARNING",
    }


def postroom_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "postroom.cli", *arguments]


def run_cli(environment: Mapping[str, str], folder: Path, *arguments: str) -> str:
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
        output = completed.stdout + completed.stderr
        raise BenchmarkError(f"postroom {' '.join(arguments)} failed:\n{output}")
    return completed.stdout.strip()


def create_api_key(environment: Mapping[str, str], folder: Path) -> str:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    run_cli(environment, folder, "users", "create", "--email", email, "--name", "Bench Mark")
    return run_cli(environment, folder, "keys", "create", "--user", email)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until_listening(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not port_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            output = log.read_text(errors="replace")
            raise BenchmarkError(f"postroom serve did not start on port {port}:\n{output}")
        time.sleep(0.05)


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
def running_server(
    environment: Mapping[str, str], folder: Path, port: int, start_timeout: float = START_TIMEOUT
) -> Iterator[subprocess.Popen[bytes]]:
    """``postroom serve`` (migrations included) for the block; its output in ``server.log``.

    ``start_timeout``: how long it may take to listen (its start-up checks read the database)."""
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
            wait_until_listening(process, port, log_path, start_timeout)
            yield process
        finally:
            stop(process)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kib_read_from_disk() -> float:
    """KiB the kernel has read in from block devices since boot, for the whole machine
    (``pgpgin`` in ``/proc/vmstat``; NaN elsewhere). A read served from the page cache does
    not count: this is what a measurement had to fetch from the disk."""
    try:
        lines = Path("/proc/vmstat").read_text().splitlines()
    except OSError:
        return math.nan
    for line in lines:
        name, _, value = line.partition(" ")
        if name == "pgpgin":
            return float(value)
    return math.nan


# -- reporting -----------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank: the smallest sample with at least p % of the samples <= it."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] if ordered else math.nan


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def machine_facts(
    backends: Sequence[str], postgres_url: str, *extra: tuple[str, str]
) -> list[tuple[str, str]]:
    """The facts every report ends with: CPU, cores, Python, OS, date and load average, then a
    benchmark's own ``extra`` facts, then PostgreSQL's version when it took part."""
    found = [
        ("CPU", cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("Python", platform.python_version()),
        ("OS", platform.platform()),
        ("Date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("Load average at the start (1/5/15 min)", load_average(LOAD_AT_START)),
        ("Load average at the end (1/5/15 min)", load_average(os.getloadavg())),
        *extra,
    ]
    if "postgres" in backends:
        found.append(("PostgreSQL", postgres_version(postgres_url)))
    return found


def busy_warning(consequence: str) -> list[str]:
    """A report's warning when other work kept the cores busy before the benchmark started."""
    cores, load = os.cpu_count() or 1, LOAD_AT_START[0]
    if load <= cores / 2:
        return []
    return [
        f"**The machine was busy**: 1-minute load average {load:.1f} on {cores} cores before "
        f"the benchmark started. {consequence}",
        "",
    ]


def publish(report: str, output: Path | None) -> None:
    """Print the report and write it to ``output`` (none for smoke runs)."""
    say()
    say(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        say(f"written to {output}")
