"""Overload (reliability issue #7, point 9): offered 4x the rate it sustains, the server slows
down or answers 503 with ``Retry-After``, loses no email it accepted and keeps its memory bounded.

For each database (SQLite in a temporary folder, then a fresh PostgreSQL database) this starts
a real ``postroom serve`` whose sending account is an SMTP sink running in this process, takes
the API key the server creates and prints on its first start (README) and creates a lead
through the API, then:

1. **Sustained rate R**: wrk (closed loop) posts ``outbox`` emails (``send_in`` 1-5 s) for a
   while with 8 connections, then with 24 (bench/wrk/overload_create_email.lua); R = the
   higher of the two 2xx rates. 8 keep SQLite's one writer busy; PostgreSQL's pool has 15
   connections and commits in parallel, so 8 can leave it idle part of the time.
2. **Overload**: an open-loop generator in a process of its own offers ``4 x R`` requests a
   second, evenly spaced, for a while, each on a new connection; it records every answer.
3. **Afterwards**: waits until every email accepted with a 2xx arrived at the sink, reads each
   back (``GET /activity/email/{id}/`` must be 200 and end ``sent``), lists every email on the
   lead and counts Message-IDs that arrived twice.

Why an open-loop generator and not wrk with more connections: wrk sends a connection's next
request only when the previous answer arrived, so what it offers depends on how fast the server
answers. Below the server's in-progress limit (256 by default) it offers no more than the
server completes; above it, the 503s come back at once and wrk offers as many requests as its
own CPU allows, which is no defined multiple of anything. The generator sends request ``i`` at
``i / (4 R)`` seconds whatever happened to the earlier ones, so the server is offered 4 R for
the whole phase. Its only brake is a cap on requests in flight (1024, four times the server's
limit); requests it could not send because of the cap are counted as "not sent", and the rate
it actually reached is reported. Latency is counted from when a request was due to be sent, so
a slow generator cannot hide a slow server.

Peak RSS of the server is the kernel's high-water mark (``VmHWM``) at the end, and the highest
``VmRSS`` sampled every 50 ms during the overload.

    python bench/overload.py            # SQLite and PostgreSQL: wrk 2 x 10 s, overload 30 s
    python bench/overload.py --smoke    # SQLite: wrk 2 x 2 s, overload 3 s at a limit of 32
    python bench/overload.py --databases postgres --seconds 60 --factor 8

The smoke version lowers ``POSTROOM_MAX_CONCURRENT_REQUESTS`` to 32 so that the 503s come within
its few seconds; the full version keeps the server's default. Exit status: 0 when nothing
accepted was lost or sent twice, every failure was a 503 with a numeric ``Retry-After`` and peak
RSS stayed under the bound; 1 otherwise; 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import multiprocessing
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from processes import (
    HOST,
    BenchmarkError,
    SinkHandler,
    chosen_databases,
    cpu_seconds,
    database_url,
    free_port,
    machine_facts,
    percentile,
    progress,
    publish,
    running_server,
    say,
    server_environment,
    smtp_sink,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results" / "overload.md"
WRK_SCRIPT = Path(__file__).parent / "wrk" / "overload_create_email.lua"
EMAILS_PATH = "/api/v1/activity/email/"
WRK_CONNECTIONS = (8, 24)
"""Both below the server's in-progress limit (wrk must see no 503)."""
WRK_THREADS = 2
REQUEST_TIMEOUT = 120.0
"""Seconds wrk and the generator wait for one answer before they count the request as failed."""
DRAIN_TIMEOUT = 180.0
"""Seconds to wait, after the overload, for every accepted email to be sent."""
DUPLICATE_WATCH = 1.0
"""Seconds to keep listening after the last expected arrival, to catch a second copy."""
RSS_INTERVAL = 0.05
DEFAULT_SERVER_LIMIT = 256
"""``max_concurrent_requests`` in src/postroom/config.py."""
POOL_TIMEOUT_LOGGED = "refused: no database connection in time"
FIRST_RUN_KEY = re.compile(r"curl -u (\S+): ")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\w*(: |$)")


@dataclass(frozen=True)
class Workload:
    measure_seconds: float
    overload_seconds: float
    factor: float
    max_in_flight: int
    send_in_range: tuple[int, int]
    backends: tuple[str, ...]
    seed: int
    max_rss_mb: float
    server_limit: int | None
    """``POSTROOM_MAX_CONCURRENT_REQUESTS`` for the server; None keeps its default."""


# -- the sustained rate: wrk ----------------------------------------------------------------


@dataclass(frozen=True)
class WrkRun:
    connections: int
    requests: int
    non_2xx: int
    seconds: float
    socket_errors: str

    @property
    def rate(self) -> float:
        """2xx answers per second."""
        return (self.requests - self.non_2xx) / self.seconds


def basic_authorization(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def closed_loop(
    port: int, authorization: str, lead_id: str, workload: Workload, connections: int
) -> WrkRun:
    low, high = workload.send_in_range
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"--timeout={REQUEST_TIMEOUT:g}s",
        f"-d{workload.measure_seconds:g}s",
        "-s",
        str(WRK_SCRIPT),
        f"http://{HOST}:{port}/",
        "--",
        authorization,
        lead_id,
        str(low),
        str(high),
    ]
    try:
        completed = subprocess.run(  # noqa: S603 - wrk, fixed arguments
            command, capture_output=True, text=True, timeout=workload.measure_seconds + 60
        )
    except FileNotFoundError as error:
        raise BenchmarkError("wrk is not installed") from error
    if completed.returncode != 0:
        raise BenchmarkError(f"wrk failed:\n{completed.stdout}{completed.stderr}")
    return parse_wrk(completed.stdout, connections)


def parse_wrk(output: str, connections: int) -> WrkRun:
    totals = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if totals is None:
        raise BenchmarkError(f"no totals in wrk's output:\n{output}")
    unit = {"ms": 0.001, "s": 1.0, "m": 60.0}[totals.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return WrkRun(
        connections=connections,
        requests=int(totals.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        seconds=float(totals.group(2)) * unit,
        socket_errors=errors.group(1).strip() if errors else "",
    )


# -- the overload: an open-loop generator in its own process ---------------------------------


@dataclass(frozen=True)
class Offer:
    port: int
    authorization: str
    lead_id: str
    rate: float
    seconds: float
    max_in_flight: int
    send_in_range: tuple[int, int]
    seed: int


@dataclass(frozen=True)
class Outcome:
    """One request of the overload. ``status`` is 0 when no HTTP answer came back."""

    due: float
    """When it was due to be sent, in seconds after the first one."""
    sent: bool
    latency: float = math.nan
    """From when it was due to be sent to the end of the answer, in seconds."""
    status: int = 0
    retry_after: str | None = None
    email_id: str | None = None
    message_id: str | None = None
    error: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(offer: Offer, number: int, send_in: int) -> bytes:
    body = json.dumps(
        {
            "lead_id": offer.lead_id,
            "status": "outbox",
            "send_in": send_in,
            "sender": "bench@sender.example.com",
            "to": [f"o{number}@buyer.example.com"],
            "subject": f"Overload {number}",
            "body_text": "Hello",
        }
    ).encode()
    head = (
        f"POST {EMAILS_PATH} HTTP/1.1\r\nHost: {HOST}:{offer.port}\r\n"
        f"Authorization: {offer.authorization}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def parse_answer(head: bytes, body: bytes) -> Answer:
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ", 2)[1]), headers, body)


async def exchange(port: int, request: bytes) -> Answer:
    """One request on a new connection; the server closes it after the answer."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        return parse_answer(head, await reader.read())
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()


def outcome_of(answer: Answer, due: float, latency: float) -> Outcome:
    email_id = message_id = None
    if 200 <= answer.status < 300:
        email = json.loads(answer.body)
        email_id, message_id = email["id"], email["message_ids"][0]
    retry_after = answer.headers.get("retry-after")
    return Outcome(due, True, latency, answer.status, retry_after, email_id, message_id)


async def send_one(port: int, request: bytes, due: float, start: float) -> Outcome:
    loop = asyncio.get_running_loop()
    try:
        answer = await asyncio.wait_for(exchange(port, request), REQUEST_TIMEOUT)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
        return Outcome(due, True, loop.time() - start - due, error=type(error).__name__)
    return outcome_of(answer, due, loop.time() - start - due)


async def offer_load(offer: Offer) -> list[Outcome]:
    """Send request ``i`` at ``i / rate`` s, unless ``max_in_flight`` are still unanswered."""
    rng = random.Random(offer.seed)  # noqa: S311 - a reproducible workload
    count = round(offer.rate * offer.seconds)
    requests = [request_bytes(offer, i, rng.randint(*offer.send_in_range)) for i in range(count)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    in_flight: set[asyncio.Task[Outcome]] = set()
    tasks: list[asyncio.Task[Outcome]] = []
    skipped: list[Outcome] = []
    for number, request in enumerate(requests):
        due = number / offer.rate
        await asyncio.sleep(max(start + due - loop.time(), 0))
        if len(in_flight) >= offer.max_in_flight:
            skipped.append(Outcome(due, False))
            continue
        task = asyncio.create_task(send_one(offer.port, request, due, start))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        tasks.append(task)
    return [*await asyncio.gather(*tasks), *skipped]


def generate(offer: Offer) -> list[Outcome]:
    """The generator's process: run the open loop and hand back every outcome."""
    return asyncio.run(offer_load(offer))


@contextmanager
def generator_process() -> Iterator[ProcessPoolExecutor]:
    """The generator's own process, started at once: its imports are done before it is needed."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(int)
        yield pool


# -- memory of the server --------------------------------------------------------------------


def status_kib(pid: int, name: str) -> int:
    """A ``VmRSS``/``VmHWM``-style line of ``/proc/PID/status``, in KiB (0 when unreadable)."""
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    return 0


def run_queue_seconds(pid: int) -> float:
    """Time the process's main thread (the event loop) spent ready to run but waiting for a
    CPU, from ``/proc/PID/schedstat``: high when other processes keep the cores busy."""
    with suppress(OSError):
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return math.nan


class RssSampler:
    """Samples a process's ``VmRSS`` every ``RSS_INTERVAL`` s in a thread, keeping the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL):
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))

    @contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


# -- after the load: was anything lost or sent twice? ------------------------------------------


def wait_for_arrivals(sink: SinkHandler, message_ids: set[str]) -> Counter[str]:
    """Message-ID -> copies received, once every expected one arrived or time ran out."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        if message_ids <= {message_id for message_id, _ in sink.snapshot()}:
            break
        time.sleep(0.1)
    time.sleep(DUPLICATE_WATCH)
    return Counter(message_id for message_id, _ in sink.snapshot())


def final_statuses(client: httpx.Client, email_ids: list[str]) -> dict[str, str]:
    """Each email's status read back one by one (``"HTTP nnn"`` when the read failed); those
    not ``sent`` yet are read again until they are or a few seconds passed."""
    statuses = {email_id: read_status(client, email_id) for email_id in email_ids}
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and any(s == "outbox" for s in statuses.values()):
        time.sleep(0.2)
        for email_id in [e for e, status in statuses.items() if status == "outbox"]:
            statuses[email_id] = read_status(client, email_id)
    return statuses


def read_status(client: httpx.Client, email_id: str) -> str:
    response = client.get(f"activity/email/{email_id}/", params={"_fields": "status"})
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return str(response.json()["status"])


def every_email(client: httpx.Client, lead_id: str) -> list[dict[str, Any]]:
    """Every email on the lead, paged through the list endpoint."""
    emails: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {
            "lead_id": lead_id,
            "_skip": len(emails),
            "_limit": 100,
            "_fields": "id,status,message_ids",
        }
        response = client.get("activity/email/", params=params)
        if response.status_code != 200:
            raise BenchmarkError(f"listing emails answered {response.status_code}")
        page = response.json()
        emails.extend(page["data"])
        if not page["has_more"]:
            return emails


# -- one database ---------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    workload: Workload
    wrk_runs: list[WrkRun]
    offer: Offer
    outcomes: list[Outcome]
    arrivals: Counter[str]
    statuses: dict[str, str]
    """Status read back for every email accepted with a 2xx during the overload."""
    all_emails: list[dict[str, Any]]
    peak_rss_kib: int
    """Highest VmRSS sampled during the overload."""
    high_water_kib: int
    """VmHWM at the end: the process's peak RSS since it started."""
    baseline_rss_kib: int
    """VmRSS just before the overload."""
    server_limit: int
    server_cpu: float
    """Cores the server used during the overload (CPU seconds / wall seconds)."""
    loop_waited: float
    """Seconds per second the event loop's thread was ready to run but had no CPU."""
    pool_timeouts: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)
    """Exceptions the server logged, by their last traceback line."""
    problems: list[str] = field(default_factory=list)

    def of_status(self, low: int, high: int) -> list[Outcome]:
        return [o for o in self.outcomes if o.sent and low <= o.status <= high]

    @property
    def accepted(self) -> list[Outcome]:
        return self.of_status(200, 299)

    @property
    def refused(self) -> list[Outcome]:
        return self.of_status(503, 503)

    @property
    def other(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.sent and not is_2xx_or_503(o.status)]

    @property
    def not_sent(self) -> int:
        return sum(not o.sent for o in self.outcomes)

    @property
    def bad_retry_after(self) -> int:
        """503s without a ``Retry-After`` of whole seconds."""
        return sum(not (o.retry_after or "").isdigit() for o in self.refused)

    @property
    def lost(self) -> int:
        """Accepted emails that are not ``sent`` or never reached the sink."""
        return sum(
            self.statuses.get(o.email_id or "") != "sent" or not self.arrivals[o.message_id or ""]
            for o in self.accepted
        )

    @property
    def duplicates(self) -> int:
        return sum(copies > 1 for copies in self.arrivals.values())

    @property
    def unsent_on_lead(self) -> int:
        """Emails on the lead (wrk's too) that did not end ``sent`` or never arrived."""
        return sum(
            email["status"] != "sent" or not self.arrivals[email["message_ids"][0]]
            for email in self.all_emails
        )

    def latency_ms(self, outcomes: list[Outcome], p: float) -> float:
        return 1000 * percentile([o.latency for o in outcomes], p)

    @property
    def wrk_errors(self) -> list[str]:
        return [run.socket_errors for run in self.wrk_runs if run.socket_errors]

    @property
    def sustained_rate(self) -> float:
        """R: the higher of wrk's 2xx rates."""
        return max(run.rate for run in self.wrk_runs)

    @property
    def sent_rate(self) -> float:
        sent = [o.due for o in self.outcomes if o.sent]
        return len(sent) / self.offer.seconds

    def find_problems(self) -> list[str]:
        found = []
        checks = [
            (self.lost, "accepted emails lost (not sent or never arrived)"),
            (self.duplicates, "Message-IDs arrived more than once"),
            (len(self.other), f"failures other than 503: {self.other_kinds()}"),
            (self.bad_retry_after, "503s without a numeric Retry-After"),
            (self.unsent_on_lead, "emails on the lead not sent or never arrived"),
            (sum(run.non_2xx for run in self.wrk_runs), "non-2xx answers to wrk"),
            (len(self.wrk_errors), f"wrk runs with socket errors: {'; '.join(self.wrk_errors)}"),
        ]
        for count, what in checks:
            if count:
                found.append(f"{self.backend}: {count} {what}")
        for line, count in self.server_errors.most_common():
            found.append(f"{self.backend}: the server logged {count} x {line}")
        peak_mb = max(self.peak_rss_kib, self.high_water_kib) / 1024
        if peak_mb > self.workload.max_rss_mb:
            found.append(f"{self.backend}: peak RSS {peak_mb:.0f} MB > {self.workload.max_rss_mb}")
        return found

    def other_kinds(self) -> str:
        kinds = Counter(o.error or f"HTTP {o.status}" for o in self.other)
        return ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common())

    def line(self) -> str:
        seconds = self.offer.seconds
        return (
            f"overload {self.backend}: R={self.sustained_rate:.1f}/s "
            f"offered={self.offer.rate:.1f}/s sent={self.sent_rate:.1f}/s "
            f"accepted={len(self.accepted) / seconds:.1f}/s 2xx={len(self.accepted)} "
            f"503={len(self.refused)} pool_timeouts={self.pool_timeouts} other={len(self.other)} "
            f"not_sent={self.not_sent} bad_retry_after={self.bad_retry_after} "
            f"p50_2xx={self.latency_ms(self.accepted, 50):.0f} ms "
            f"p99_2xx={self.latency_ms(self.accepted, 99):.0f} ms "
            f"peak_rss={mib(max(self.peak_rss_kib, self.high_water_kib))} MB "
            f"lost={self.lost} duplicates={self.duplicates}"
        )


def is_2xx_or_503(status: int) -> bool:
    return 200 <= status < 300 or status == 503


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def create_lead(client: httpx.Client) -> str:
    response = client.post("lead/", json={"name": "Overload Corp"})
    if response.status_code != 200:
        raise BenchmarkError(f"POST lead/ answered {response.status_code}: {response.text}")
    return str(response.json()["id"])


def environment_for(
    url: str, folder: Path, port: int, smtp_port: int, workload: Workload
) -> Mapping[str, str]:
    environment = server_environment(url, folder, port, f"smtp://{HOST}:{smtp_port}")
    if workload.server_limit is not None:
        environment["POSTROOM_MAX_CONCURRENT_REQUESTS"] = str(workload.server_limit)
    return environment


@dataclass(frozen=True)
class Target:
    """One running server and what the benchmark uses beside it."""

    backend: str
    client: httpx.Client
    authorization: str
    sink: SinkHandler
    pid: int
    port: int
    generator: ProcessPoolExecutor


def run_backend(backend: str, workload: Workload, postgres_url: str) -> Result:
    with (
        tempfile.TemporaryDirectory(prefix="postroom-overload-") as tmp,
        database_url(backend, Path(tmp), postgres_url) as url,
        smtp_sink() as (sink, smtp_port),
        generator_process() as generator,
    ):
        folder, port = Path(tmp), free_port()
        environment = environment_for(url, folder, port, smtp_port, workload)
        with running_server(environment, folder, port) as process:
            progress(f"{backend}: postroom serve listens on port {port}")
            key = first_run_key(folder / "server.log")
            base_url = f"http://{HOST}:{port}/api/v1/"
            with httpx.Client(base_url=base_url, auth=(key, ""), timeout=60) as client:
                authorization = basic_authorization(key)
                target = Target(backend, client, authorization, sink, process.pid, port, generator)
                result = load_and_check(target, workload)
        result.server_errors = logged_exceptions(folder / "server.log")
        result.pool_timeouts = logged_pool_timeouts(folder / "server.log")
        progress(f"{backend}: server stopped")
    result.problems = result.find_problems()
    return result


def first_run_key(log: Path) -> str:
    """The API key ``postroom serve`` created on an empty database, from its ``curl`` line."""
    found = FIRST_RUN_KEY.search(log.read_text(errors="replace"))
    if found is None:
        raise BenchmarkError(f"postroom serve printed no first-run API key in {log}")
    return found.group(1)


def logged_pool_timeouts(log: Path) -> int:
    """503s given for want of a database connection (src/postroom/kit/limits.py logs each)."""
    return log.read_text(errors="replace").count(POOL_TIMEOUT_LOGGED)


def logged_exceptions(log: Path) -> Counter[str]:
    """The last line of each traceback in the server's log (exception and message), counted."""
    lines = log.read_text(errors="replace").splitlines()
    return Counter(line[:200] for line in lines if EXCEPTION_LINE.match(line))


def load_and_check(target: Target, workload: Workload) -> Result:
    """Measure R, offer ``factor`` x R, then wait for the emails and check each."""
    lead_id = create_lead(target.client)
    wrk_runs = []
    for connections in WRK_CONNECTIONS:
        run = closed_loop(target.port, target.authorization, lead_id, workload, connections)
        progress(f"{target.backend}: wrk -c{connections}: {run.rate:.1f} emails/s")
        wrk_runs.append(run)
    offer = Offer(
        target.port,
        target.authorization,
        lead_id,
        workload.factor * max(run.rate for run in wrk_runs),
        workload.overload_seconds,
        workload.max_in_flight,
        workload.send_in_range,
        workload.seed,
    )
    baseline = status_kib(target.pid, "VmRSS")
    cpu_before, waited_before = cpu_seconds(target.pid), run_queue_seconds(target.pid)
    started = time.monotonic()
    with RssSampler(target.pid).sampling() as sampler:
        outcomes = target.generator.submit(generate, offer).result()
    elapsed = time.monotonic() - started
    server_cpu = (cpu_seconds(target.pid) - cpu_before) / elapsed
    loop_waited = (run_queue_seconds(target.pid) - waited_before) / elapsed
    progress(f"{target.backend}: overload over: {len(outcomes)} requests at {offer.rate:.1f}/s")
    accepted = [o for o in outcomes if o.message_id is not None]
    arrivals = wait_for_arrivals(target.sink, {o.message_id for o in accepted if o.message_id})
    progress(f"{target.backend}: {len(arrivals)} distinct messages at the sink")
    statuses = final_statuses(target.client, [o.email_id for o in accepted if o.email_id])
    return Result(
        target.backend,
        workload,
        wrk_runs,
        offer,
        outcomes,
        arrivals,
        statuses,
        every_email(target.client, lead_id),
        sampler.peak_kib,
        status_kib(target.pid, "VmHWM"),
        baseline,
        workload.server_limit or DEFAULT_SERVER_LIMIT,
        server_cpu,
        loop_waited,
    )


# -- the report -----------------------------------------------------------------------------


def facts(workload: Workload, postgres_url: str) -> list[tuple[str, str]]:
    return machine_facts(
        workload.backends,
        postgres_url,
        ("Seed", str(workload.seed)),
        (
            "Sustained rate measured with",
            f"wrk -t{WRK_THREADS}, -c{WRK_CONNECTIONS[0]} then -c{WRK_CONNECTIONS[1]}, "
            f"{workload.measure_seconds:g} s each",
        ),
        (
            "Overload",
            f"{workload.factor:g} x R for {workload.overload_seconds:g} s, "
            f"open loop, at most {workload.max_in_flight} in flight",
        ),
        ("send_in", "{}-{} s".format(*workload.send_in_range)),
    )


def rate_row(result: Result) -> str:
    seconds = result.offer.seconds
    return (
        f"| {result.backend} | {result.server_limit} | "
        f"{' / '.join(f'{run.rate:.1f}' for run in result.wrk_runs)} | "
        f"{result.sustained_rate:.1f} | "
        f"{result.offer.rate:.1f} | {result.sent_rate:.1f} | "
        f"{len(result.accepted) / seconds:.1f} | {len(result.accepted)} | {len(result.refused)} | "
        f"{result.pool_timeouts} | {len(result.other)} | {result.not_sent} |"
    )


def latency_row(result: Result) -> str:
    accepted, refused = result.accepted, result.refused
    return (
        f"| {result.backend} | {result.latency_ms(accepted, 50):.0f} | "
        f"{result.latency_ms(accepted, 99):.0f} | {result.latency_ms(refused, 50):.0f} | "
        f"{result.latency_ms(refused, 99):.0f} | {mib(result.baseline_rss_kib)} | "
        f"{mib(result.peak_rss_kib)} | {mib(result.high_water_kib)} | {result.server_cpu:.2f} | "
        f"{result.loop_waited:.2f} |"
    )


def loss_row(result: Result) -> str:
    return (
        f"| {result.backend} | {len(result.accepted)} | {result.lost} | {result.duplicates} | "
        f"{len(result.all_emails)} | {result.unsent_on_lead} | {result.bad_retry_after} | "
        f"{'yes' if not result.problems else '**no**'} |"
    )


def markdown(results: list[Result], machine: list[tuple[str, str]]) -> str:
    lines = [
        "# Overload: 4 x the sustained rate",
        "",
        "R is the rate of `POST /activity/email/` (outbox emails) that wrk sustains: the "
        "higher of its 2xx rates with 8 and with 24 connections. The server is then offered "
        '4 x R by an open-loop generator ("offered"; "sent" is what it managed; "not '
        'sent": requests it skipped with 1024 already in flight). 2xx /s = 2xx answers / the '
        "overload's length. Pool timeouts: 503s given because a request waited longer than the "
        "database pool's timeout for a connection. Latencies count from when a request was due "
        "to be sent. Produced by `make overload`; see bench/overload.py.",
        "",
        "| database | in-progress limit | wrk 2xx /s (c8 / c24) | R /s | offered /s | sent /s "
        "| 2xx /s | 2xx | 503 | of them pool timeouts | other | not sent |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[rate_row(result) for result in results],
        "",
        "| database | 2xx p50 ms | 2xx p99 ms | 503 p50 ms | 503 p99 ms | RSS before MB "
        "| peak RSS during MB | VmHWM MB | server CPU (cores) | loop waiting for a CPU (s/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[latency_row(result) for result in results],
        "",
        "| database | accepted | lost | sent twice | emails on the lead | of them not sent "
        "| 503 without Retry-After | all well |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *[loss_row(result) for result in results],
        "",
        *problem_lines(results),
        "| machine and run | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in machine],
    ]
    return "\n".join(lines) + "\n"


def problem_lines(results: list[Result]) -> list[str]:
    problems = [problem for result in results for problem in result.problems]
    return ["Problems:", "", *[f"- {problem}" for problem in problems], ""] if problems else []


# -- command line ---------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="a few seconds on SQLite only")
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=None, help="length of the overload")
    parser.add_argument("--factor", type=float, default=4.0, help="offered rate / R")
    parser.add_argument("--limit", type=int, default=None, help="server's in-progress limit")
    parser.add_argument(
        "--max-in-flight", type=int, default=1024, help="generator's cap on unanswered requests"
    )
    parser.add_argument("--max-rss-mb", type=float, default=300.0, help="bound on peak RSS")
    parser.add_argument("--seed", type=int, default=None, help="replay a run's send_in values")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    return parser.parse_args(argv)


def workload_from(arguments: argparse.Namespace) -> Workload:
    seed = arguments.seed if arguments.seed is not None else secrets.randbelow(2**32)
    backends = chosen_databases(arguments.databases, arguments.smoke)
    smoke = arguments.smoke
    return Workload(
        measure_seconds=2.0 if smoke else 10.0,
        overload_seconds=arguments.seconds or (3.0 if smoke else 30.0),
        factor=arguments.factor,
        max_in_flight=arguments.max_in_flight,
        send_in_range=(1, 2) if smoke else (1, 5),
        backends=backends,
        seed=seed,
        max_rss_mb=arguments.max_rss_mb,
        server_limit=arguments.limit or (32 if smoke else None),
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workload = workload_from(arguments)
    output = arguments.output or (None if arguments.smoke else RESULTS)
    say(f"seed {workload.seed} (replay with --seed {workload.seed})")
    try:
        results = [run_backend(b, workload, arguments.postgres_url) for b in workload.backends]
        report = markdown(results, facts(workload, arguments.postgres_url))
    except BenchmarkError as error:
        say(f"benchmark failed: {error}")
        return 2
    for result in results:
        say(result.line())
    publish(report, output)
    for result in results:
        for problem in result.problems:
            say(f"PROBLEM: {problem}")
    return 1 if any(result.problems for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
