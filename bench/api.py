"""API throughput and memory (issue #8, points 4 and 7): requests a second and latency of
``POST /activity/email/`` logging ``sent`` emails, of reading one email and of a list page of
100, against a bare FastAPI app served the same way (the ceiling), and the server's peak RSS.

For each database (SQLite in a temporary folder, and a fresh PostgreSQL database) this starts a
real ``postroom serve`` on an empty database (which prints a first user's API key), creates a
lead with a contact through the API, then drives the server with wrk (``-t2 -c8``, Basic auth,
bench/wrk/request.lua) for ``--duration`` seconds per measurement, then does the same with
bench/ceiling_app.py.
Goals: >= 0.5 x the ceiling's requests a second with p99 <= 20 ms; peak RSS <= 150 MB.
See bench/README.md.

    python bench/api.py                  # 20 s per measurement, SQLite and PostgreSQL
    python bench/api.py --smoke          # 1 s runs, SQLite only, pages of 10, nothing written
    python bench/api.py --profile /tmp/p # plus one more POST run under py-spy, stacks kept there

Exit status: 0 when every run was free of errors (whether or not the goals were met), 1 when
some request failed (the run is invalid), 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from processes import (
    HOST,
    BenchmarkError,
    busy_warning,
    chosen_databases,
    cpu_seconds,
    database_url,
    free_port,
    libpq,
    machine_facts,
    progress,
    publish,
    running_server,
    say,
    server_environment,
    stop,
    wait_until_listening,
)

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "api.md"
WRK_SCRIPT = BENCH / "wrk" / "request.lua"
CEILING_APP = BENCH / "ceiling_app.py"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0
GOAL_RSS_MB = 150.0
WRK_THREADS = 2
WRK_TIMEOUT_SECONDS = 10
"""wrk counts slower answers as errors (timeouts) instead of measuring them."""
RSS_POLL_SECONDS = 0.05
FIRST_RUN_KEY = re.compile(r"curl -u (\S+): ")
FRAME_LINE = re.compile(r" \(([^:()]*):\d+\)$")
"""The line number at the end of a py-spy frame (functions are counted, not lines)."""
PROFILE_RATE = 100
"""py-spy samples a second (``--profile``)."""


# -- the requests --------------------------------------------------------------------------

PARAGRAPHS = (
    "Thanks for taking the time to walk us through your current onboarding process on "
    "Tuesday. As promised, here is a short summary of what we discussed and the next steps.",
    "Your team sends roughly four hundred follow-ups a week from three shared inboxes, and "
    "replies are tracked by hand in a spreadsheet. The two pain points you named were "
    "missed replies over the weekend and no single view of who last spoke to an account.",
    "Our proposal covers a pilot for the sales team of six: shared sequences, reply "
    "detection on all three inboxes, and a weekly report of open conversations per owner. "
    "The pilot runs for thirty days and needs about an hour of setup on your side.",
    "I have attached the pricing sheet and the security overview your IT lead asked for. "
    "Would Thursday at 10:00 or Friday at 14:00 work for a call to settle the details?",
)
SIGNATURE = "Best regards,\nSam Taylor\nAccount Executive, Postroom Demo Inc.\n+1 555 0100"


def sent_email(lead_id: str, recipient: str) -> dict[str, Any]:
    """A realistic ``sent`` email of about 2 KB of JSON: a text and an HTML body."""
    html = "".join(f"<p>{paragraph}</p>" for paragraph in PARAGRAPHS)
    signature = SIGNATURE.replace("\n", "<br>")
    return {
        "lead_id": lead_id,
        "status": "sent",
        "to": [recipient],
        "sender": "Sam Taylor <sam.taylor@sales.example.com>",
        "subject": "Follow-up: onboarding pilot for your sales team",
        "body_text": "Hi Jane,\n\n" + "\n\n".join(PARAGRAPHS) + "\n\n" + SIGNATURE,
        "body_html": f"<div><p>Hi Jane,</p>{html}<p>{signature}</p></div>",
    }


CEILING_NOTE = {
    "lead_id": "lead_ceiling",
    "subject": "Follow-up",
    "to": ["jane@acme.example.com"],
}


@dataclass(frozen=True)
class Request:
    """One request, as wrk repeats it and as it is checked once beforehand."""

    name: str
    method: str
    url: str
    body_file: Path | None = None
    authorization: str = ""

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "WRK_METHOD": self.method,
            "WRK_BODY_FILE": str(self.body_file or ""),
            "WRK_AUTHORIZATION": self.authorization,
        }

    def check(self) -> dict[str, Any]:
        """Send it once; the answer must be a 200 (else every wrk request would fail too)."""
        headers = {"Authorization": self.authorization} if self.authorization else {}
        content = self.body_file.read_bytes() if self.body_file else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = httpx.request(self.method, self.url, content=content, headers=headers)
        if response.status_code != 200:
            raise BenchmarkError(f"{self.name} answered {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer


def basic_authorization(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


# -- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    duration: int
    """Seconds per measured run."""
    warmup: int
    """Seconds of the same load before the first measured run against a server (0: none)."""
    connections: int
    list_page: int
    """Emails on the listed page (``_limit``)."""

    @property
    def threads(self) -> int:
        return min(WRK_THREADS, self.connections)


@dataclass(frozen=True)
class Measurement:
    backend: str
    name: str
    requests: int
    seconds: float
    errors: int
    """Connect, read, write errors, timeouts and responses with a status >= 400."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cores: float
    """CPU time the server used / wall time of the run (1.0 = one core busy)."""
    wrk_cores: float
    """The same for wrk."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    @property
    def rate_per_core(self) -> float:
        """Requests a second per core the server kept busy: what one whole core would carry."""
        return self.rate / self.server_cores if self.server_cores else math.nan

    @property
    def server_cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cores * self.seconds / self.requests if self.requests else 0.0

    def line(self) -> str:
        return (
            f"api {self.backend} {self.name}: rps={self.rate:.1f} p50={self.p50_ms:.2f} ms "
            f"p99={self.p99_ms:.2f} ms max={self.max_ms:.2f} ms requests={self.requests} "
            f"errors={self.errors} server_cores={self.server_cores:.2f} "
            f"server_cpu_per_request={self.server_cpu_ms_per_request:.2f} ms "
            f"wrk_cores={self.wrk_cores:.2f} rps_per_server_core={self.rate_per_core:.1f}"
        )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchmarkError("wrk is not installed (apt-get install wrk)")
    return found


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(request: Request, load: Load, seconds: int) -> tuple[dict[str, Any], float]:
    """Run wrk; its ``done()`` summary and the CPU seconds wrk used."""
    command = [
        wrk_binary(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        f"--timeout={WRK_TIMEOUT_SECONDS}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        request.url,
    ]
    cpu_before = children_cpu_seconds()
    completed = subprocess.run(  # noqa: S603 - wrk with fixed arguments
        command,
        env=request.environment(),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    wrk_cpu = children_cpu_seconds() - cpu_before
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            summary: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
            return summary, wrk_cpu
    raise BenchmarkError(f"wrk gave no result for {request.name}:\n{completed.stdout}")


def measure(backend: str, request: Request, load: Load, server_pid: int) -> Measurement:
    server_before = cpu_seconds(server_pid)
    summary, wrk_cpu = wrk(request, load, load.duration)
    seconds = summary["duration_us"] / 1e6
    errors = sum(summary[kind] for kind in ("connect", "read", "write", "status", "timeout"))
    measurement = Measurement(
        backend=backend,
        name=request.name,
        requests=summary["requests"],
        seconds=seconds,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        server_cores=(cpu_seconds(server_pid) - server_before) / seconds,
        wrk_cores=wrk_cpu / seconds,
    )
    say(measurement.line())
    return measurement


def warm_up(request: Request, load: Load) -> None:
    if load.warmup > 0:
        wrk(request, load, load.warmup)


# -- memory --------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux ``/proc``)."""
    found, index = [pid], 0
    while index < len(found):
        for task in Path(f"/proc/{found[index]}/task").glob("*"):
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
        index += 1
    return found


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Polls the RSS of a process and its descendants in a thread; keeps the largest sum."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.finished.is_set():
            total = sum(status_kb(pid, "VmRSS") for pid in process_tree(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self.finished.wait(RSS_POLL_SECONDS)

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        self.thread.start()
        try:
            yield self
        finally:
            self.finished.set()
            self.thread.join()


@dataclass(frozen=True)
class Memory:
    backend: str
    idle_mb: float
    """RSS of the server once started and one email created, before any load."""
    peak_mb: float
    """Largest RSS of the server (with any children) sampled during the measured POST run."""
    lifetime_peak_mb: float
    """The server process's VmHWM after that run: its peak since it started (migrations too)."""

    @property
    def goal_met(self) -> bool:
        return self.peak_mb <= GOAL_RSS_MB

    def line(self) -> str:
        return (
            f"api {self.backend} peak_rss: {self.peak_mb:.1f} MB idle={self.idle_mb:.1f} MB "
            f"lifetime_peak={self.lifetime_peak_mb:.1f} MB "
            f"goal={'met' if self.goal_met else 'NOT met'}"
        )


# -- profiling -----------------------------------------------------------------------------


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise BenchmarkError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


@contextmanager
def profiling(pid: int, output: Path, seconds: int) -> Iterator[None]:
    """py-spy samples the server's GIL holder while the block runs (collapsed stacks)."""
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(PROFILE_RATE),
        "--duration",
        str(seconds),
        "--format",
        "raw",
        "--nonblocking",
        "--gil",
        "--output",
        str(output),
    ]
    recorder = subprocess.Popen(  # noqa: S603 - py-spy with fixed arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield
        recorder.wait(timeout=seconds + 30)
    finally:
        stop(recorder)


def hot_spots(collapsed: Path, top: int = 25) -> list[str]:
    """Postroom's functions by the share of samples they are in (inclusive, all callees), then
    the functions most often on top of the stack (self), whatever the package."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or not stack:
            continue  # a frame name with a line break in it (generated code) split the line
        count = int(count_text)
        frames = [FRAME_LINE.sub(r" (\1)", frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if "postroom/" in frame and "postroom/cli.py" not in frame:
                inclusive[frame] += count
    if not total:
        return ["no samples"]
    return [
        f"{total} samples while a thread held the GIL",
        *[
            f"inclusive {100 * n / total:5.1f} %  {frame}"
            for frame, n in inclusive.most_common(top)
        ],
        *[f"self      {100 * n / total:5.1f} %  {frame}" for frame, n in own.most_common(top)],
    ]


# -- one database --------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    measurements: list[Measurement]
    memory: Memory


@dataclass(frozen=True)
class Ceiling:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


@contextmanager
def started_ceiling(backend: str, url: str, folder: Path) -> Iterator[Ceiling]:
    """bench/ceiling_app.py started (it loads while Postroom is measured) and always stopped;
    it inserts into this run's kind of database."""
    target = ["--sqlite", str(folder / "ceiling.db")] if backend == "sqlite" else []
    target = target or ["--postgres", libpq(url)]
    port, log_path = free_port(), folder / "ceiling.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(CEILING_APP), "--host", HOST, "--port", str(port), *target],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Ceiling(process, port, log_path)
        finally:
            stop(process)


def first_run_key(server_log: Path) -> str:
    """The API key ``postroom serve`` prints when it starts on an empty database."""
    found = FIRST_RUN_KEY.search(server_log.read_text(errors="replace"))
    if found is None:
        raise BenchmarkError(f"postroom serve printed no first-run API key in {server_log}")
    return found.group(1)


def create_lead(base_url: str, authorization: str) -> tuple[str, str]:
    recipient = "jane@acme.example.com"
    body = {
        "name": "Acme Corp",
        "contacts": [{"name": "Jane Doe", "emails": [{"email": recipient}]}],
    }
    response = httpx.post(f"{base_url}lead/", json=body, headers={"Authorization": authorization})
    if response.status_code != 200:
        raise BenchmarkError(f"POST lead/ answered {response.status_code}: {response.text}")
    lead_id: str = response.json()["id"]
    return lead_id, recipient


def measure_postroom(
    backend: str, url: str, folder: Path, load: Load, profile: Path | None
) -> tuple[list[Measurement], Memory]:
    port = free_port()
    environment = server_environment(url, folder, port, "capture://")
    with running_server(environment, folder, port) as server:
        authorization = basic_authorization(first_run_key(folder / "server.log"))
        base_url = f"http://{HOST}:{port}/api/v1/"
        lead_id, recipient = create_lead(base_url, authorization)
        progress(f"{backend}: postroom serve on port {port}, key and lead created")
        body_file = folder / "sent-email.json"
        body_file.write_text(json.dumps(sent_email(lead_id, recipient)))
        post = Request("post_sent", "POST", f"{base_url}activity/email/", body_file, authorization)
        email_id = post.check()["id"]
        idle_kb = status_kb(server.pid, "VmRSS")
        warm_up(post, load)
        with RssSampler(server.pid).running() as sampler:
            measurements = [measure(backend, post, load, server.pid)]
        memory = Memory(
            backend,
            idle_kb / 1024,
            sampler.peak_kb / 1024,
            status_kb(server.pid, "VmHWM") / 1024,
        )
        say(memory.line())
        read_one = Request(
            "get_one", "GET", f"{base_url}activity/email/{email_id}/", None, authorization
        )
        listing = Request(
            f"get_list_{load.list_page}",
            "GET",
            f"{base_url}activity/email/?lead_id={lead_id}&_limit={load.list_page}",
            None,
            authorization,
        )
        fill_page(post, listing, load.list_page)
        for request in (read_one, listing):
            request.check()
            measurements.append(measure(backend, request, load, server.pid))
        if profile is not None:
            record_profile(backend, post, load, server.pid, profile)
    progress(f"{backend}: postroom serve stopped")
    return measurements, memory


def fill_page(post: Request, listing: Request, page: int) -> None:
    """POST more emails until the list page is full (a slow POST run may have made fewer)."""
    for _ in range(page - len(listing.check()["data"])):
        post.check()


def record_profile(backend: str, post: Request, load: Load, pid: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / f"api-post-{backend}.txt"
    with profiling(pid, output, load.duration):
        measure(backend, replace(post, name="post_sent_profiled"), load, pid)
    say(f"py-spy stacks of {backend} POST written to {output}")
    for line in hot_spots(output):
        say(f"profile {backend}: {line}")


def measure_ceiling(backend: str, ceiling: Ceiling, folder: Path, load: Load) -> list[Measurement]:
    wait_until_listening(ceiling.process, ceiling.port, ceiling.log)
    progress(f"{backend}: ceiling app on port {ceiling.port}")
    body_file = folder / "ceiling-note.json"
    body_file.write_text(json.dumps(CEILING_NOTE))
    base_url = f"http://{HOST}:{ceiling.port}/ceiling/"
    bare = Request("ceiling", "POST", base_url, body_file)
    insert = Request("ceiling_insert", "POST", f"{base_url}insert/", body_file)
    for request in (bare, insert):
        request.check()
    warm_up(bare, load)
    return [measure(backend, request, load, ceiling.process.pid) for request in (bare, insert)]


def run_backend(backend: str, load: Load, postgres_url: str, profile: Path | None) -> Run:
    with (
        tempfile.TemporaryDirectory(prefix="postroom-bench-api-") as tmp,
        database_url(backend, Path(tmp), postgres_url) as url,
        started_ceiling(backend, url, Path(tmp)) as ceiling,
    ):
        folder = Path(tmp)
        measurements, memory = measure_postroom(backend, url, folder, load, profile)
        measurements += measure_ceiling(backend, ceiling, folder, load)
    progress(f"{backend}: ceiling app stopped")
    return Run(backend, measurements, memory)


# -- the report ----------------------------------------------------------------------------

GOALS = {
    "post_sent": f">= {GOAL_RATIO} x ceiling, p99 <= {GOAL_P99_MS:.0f} ms",
    "get_one": f">= {GOAL_RATIO} x ceiling, p99 <= {GOAL_P99_MS:.0f} ms",
}
LABELS = {
    "post_sent": "POST a `sent` email (2 KB)",
    "get_one": "GET one email",
    "ceiling": "ceiling: bare FastAPI POST",
    "ceiling_insert": "ceiling + one INSERT",
}


def label(name: str) -> str:
    page = name.removeprefix("get_list_")
    return f"GET a list page of {page}" if page != name else LABELS[name]


def ceiling_of(run: Run) -> Measurement:
    return next(m for m in run.measurements if m.name == "ceiling")


def goal_met(measurement: Measurement, ceiling: Measurement) -> bool | None:
    if measurement.name not in GOALS:
        return None
    ratio = measurement.rate / ceiling.rate
    return measurement.errors == 0 and ratio >= GOAL_RATIO and measurement.p99_ms <= GOAL_P99_MS


def verdict(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "**no**"


def row(measurement: Measurement, ceiling: Measurement) -> str:
    ratio = "-" if measurement is ceiling else f"{measurement.rate / ceiling.rate:.2f}"
    return (
        f"| {label(measurement.name)} | {measurement.rate:.0f} | {measurement.p50_ms:.1f} | "
        f"{measurement.p99_ms:.1f} | {measurement.max_ms:.1f} | {measurement.errors} | {ratio} | "
        f"{measurement.server_cpu_ms_per_request:.2f} | {measurement.server_cores:.2f} | "
        f"{measurement.rate_per_core:.0f} | "
        f"{measurement.wrk_cores:.2f} | {GOALS.get(measurement.name, '-')} | "
        f"{verdict(goal_met(measurement, ceiling))} |"
    )


def backend_section(run: Run) -> list[str]:
    ceiling = ceiling_of(run)
    memory = run.memory
    return [
        f"## {run.backend}",
        "",
        "| measurement | req/s | p50 ms | p99 ms | max ms | errors | ratio to ceiling "
        "| server CPU ms/req | server cores | req/s per server core | wrk cores | goal | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        *[row(measurement, ceiling) for measurement in run.measurements],
        "",
        "| memory | MB | goal | met |",
        "|---|---:|---|---|",
        f"| peak RSS during the POST run | {memory.peak_mb:.1f} | <= {GOAL_RSS_MB:.0f} MB | "
        f"{verdict(memory.goal_met)} |",
        f"| RSS before any load | {memory.idle_mb:.1f} | - | - |",
        f"| VmHWM after the POST run (since start) | {memory.lifetime_peak_mb:.1f} | - | - |",
        "",
        *load_generator_check(run),
        "",
    ]


def load_generator_check(run: Run) -> list[str]:
    """Why wrk was not what limited Postroom's figures (or a warning when it may have been)."""
    ceiling = ceiling_of(run)
    postroom = [m for m in run.measurements if not m.name.startswith("ceiling")]
    busiest = max(m.wrk_cores for m in postroom)
    fastest = max(m.rate for m in postroom)
    limited = fastest > 0.8 * ceiling.rate or busiest > min(m.server_cores for m in postroom)
    if limited:
        return [
            f"**wrk may have been a limit**: it used up to {busiest:.2f} cores, and Postroom "
            f"reached {fastest:.0f} req/s against the ceiling's {ceiling.rate:.0f}."
        ]
    return [
        f"Load generator: wrk used at most {busiest:.2f} cores in Postroom's runs while the "
        f"server used {min(m.server_cores for m in postroom):.2f} or more, and with the same "
        f"settings wrk drove the ceiling at {ceiling.rate:.0f} req/s, "
        f"{ceiling.rate / fastest:.1f} x Postroom's best: wrk was not the bottleneck."
    ]


def facts(load: Load, backends: tuple[str, ...], postgres_url: str) -> list[tuple[str, str]]:
    return machine_facts(
        backends,
        postgres_url,
        ("wrk", wrk_version()),
        (
            "wrk settings",
            f"-t{load.threads} -c{load.connections} -d{load.duration}s "
            f"--timeout={WRK_TIMEOUT_SECONDS}s",
        ),
        ("Warm-up before each server's first run", f"{load.warmup} s"),
    )


def wrk_version() -> str:
    completed = subprocess.run(  # noqa: S603 - wrk prints its version with usage
        [wrk_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return (completed.stdout + completed.stderr).splitlines()[0].split(" Copyright")[0]


def markdown(runs: list[Run], facts: list[tuple[str, str]]) -> str:
    lines = [
        "# API throughput and memory",
        "",
        "wrk drives one `postroom serve` (default settings, Basic auth with an API key) with "
        "one request repeated over 8 connections; the ceiling is bench/ceiling_app.py, a bare "
        "FastAPI endpoint validating a small body and returning a fixed JSON object, served "
        "by uvicorn exactly as `postroom serve` is, measured in the same run. Ratio = "
        "Postroom's req/s / the bare ceiling's. Latencies come from wrk (per request, "
        "exact percentiles). Server cores = server CPU time / wall time; req/s per server "
        "core = req/s / server cores, what the server would carry with one core to itself "
        "(the figure to compare when the machine was busy). Produced by `python bench/api.py`; "
        "see bench/README.md.",
        "",
        *busy_warning("wrk, the server and the other work shared the cores."),
        *[line for run in runs for line in backend_section(run)],
        "| machine and run | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in facts],
    ]
    return "\n".join(lines) + "\n"


# -- command line --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--smoke", action="store_true", help="1 s runs on SQLite only, a list page of 10"
    )
    parser.add_argument("--databases", default=None, help="comma-separated: sqlite,postgres")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin database")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    parser.add_argument(
        "--profile", type=Path, default=None, help="folder for py-spy stacks of one more POST run"
    )
    return parser.parse_args(argv)


def load_from(arguments: argparse.Namespace) -> Load:
    if arguments.smoke:
        return Load(duration=1, warmup=0, connections=arguments.connections, list_page=10)
    return Load(
        duration=arguments.duration, warmup=2, connections=arguments.connections, list_page=100
    )


def run_all(
    backends: tuple[str, ...], load: Load, postgres_url: str, profile: Path | None
) -> list[Run]:
    return [run_backend(backend, load, postgres_url, profile) for backend in backends]


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    backends = chosen_databases(arguments.databases, arguments.smoke)
    load = load_from(arguments)
    output = arguments.output or (None if arguments.smoke else RESULTS)
    try:
        runs = run_all(backends, load, arguments.postgres_url, arguments.profile)
        report = markdown(runs, facts(load, backends, arguments.postgres_url))
    except BenchmarkError as error:
        say(f"benchmark failed: {error}")
        return 2
    publish(report, output)
    failed = [m for run in runs for m in run.measurements if m.errors]
    for measurement in failed:
        say(f"PROBLEM: {measurement.backend} {measurement.name}: {measurement.errors} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
