"""``make bench``: run the platform for real, drive it on loopback, print ratios against baselines.

Each figure is a ratio against a baseline measured in the same run, on the same machine, database,
broker and server configuration; ``bench/README.md`` explains them. This process stays free of
Django: the platform runs in its own processes (gunicorn, the Celery worker, ``manage.py`` and the
``bench.*`` scripts), all started here in sessions of their own and all stopped here, on success,
failure, Ctrl-C or SIGTERM alike.

Settings (environment): ``DATABASE_URL`` and ``REDIS_URL`` as for the platform (the bench uses its
own database, ``<name>_bench``, dropped and created afresh), and ``BENCH_SCALE`` (multiplies the
measured windows and the audit log's size), ``BENCH_ROUNDS``, ``BENCH_CONNECTIONS``,
``BENCH_SERVER`` (``sync`` or ``gthread``), ``BENCH_WORKERS``, ``BENCH_THREADS``, ``BENCH_PROFILE``,
``BENCH_KEEP`` (keep the database and the data folder).
"""

import contextlib
import datetime as dt
import functools
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from exchange import client

from .loadgen import PhaseResult, Request, drive

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PY = sys.executable
ROWS = ("bare", "token", "signed", "signed-noaudit", "signed-1", "signed-noaudit-1")
ROW_TITLES = {"bare": "bare Django JSON view", "token": "DRF TokenAuthentication view",
              "signed": "signed read (audit on)", "signed-noaudit": "signed read (audit skipped)",
              "signed-1": "signed, 1 connection (audit on)", "signed-noaudit-1": "signed, 1 conn. (audit skipped)"}
SIGNATURE_LIFETIME = 60  # exchange.client signs for 60 s: a signed phase must be over well before


class BenchError(Exception):
    """The bench could not measure (a setup step, a server, a wrong answer): exit non-zero."""


def _env_number(name: str, default: float, *, minimum: float, maximum: float = math.inf) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not a number (default {default:g})") from None
    if not minimum <= value <= maximum:
        raise BenchError(f"{name}={raw!r} must be between {minimum:g} and {maximum:g}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise BenchError(f"{name}={raw!r} is not a yes/no value")


def _env_only() -> str:
    only = os.environ.get("BENCH_ONLY", "").strip().lower()
    if only not in ("", "import", "export"):
        raise BenchError(f"BENCH_ONLY={only!r}: use import (figure 5 alone), export (figure 6 alone), or leave it "
                         "empty for every figure")
    return only


@dataclass(frozen=True)
class Config:
    scale: float
    rounds: int
    connections: int
    warmup: float
    duration: float
    audit_events: int
    server: str
    workers: int
    threads: int
    profile: bool
    keep: bool
    import_rows: int
    only: str
    database_url: str
    redis_url: str

    @classmethod
    def from_env(cls) -> "Config":
        scale = _env_number("BENCH_SCALE", 1, minimum=0.05, maximum=100)
        server = os.environ.get("BENCH_SERVER", "sync").strip() or "sync"
        if server not in ("sync", "gthread"):
            raise BenchError(f"BENCH_SERVER={server!r}: use sync or gthread (gunicorn worker classes)")
        return cls(
            scale=scale,
            rounds=int(_env_number("BENCH_ROUNDS", 3, minimum=1, maximum=20)),
            connections=int(_env_number("BENCH_CONNECTIONS", 8, minimum=1, maximum=256)),
            warmup=2.0,
            # The measured window of each phase; a signed phase must end well inside the signatures' lifetime.
            duration=min(5.0 * scale, 40.0),
            audit_events=max(1000, round(20_000 * scale)),
            server=server,
            workers=int(_env_number("BENCH_WORKERS", 2, minimum=1, maximum=64)),
            threads=int(_env_number("BENCH_THREADS", 4, minimum=1, maximum=64)),
            profile=_env_flag("BENCH_PROFILE", True),
            import_rows=int(_env_number("BENCH_IMPORT_ROWS", round(1_000_000 * scale), minimum=1000,
                                        maximum=10_000_000)),
            only=_env_only(),
            keep=_env_flag("BENCH_KEEP", False),
            database_url=os.environ.get("DATABASE_URL", "").strip(),
            redis_url=os.environ.get("REDIS_URL", "").strip(),
        )

    def server_label(self) -> str:
        threads = f" x {self.threads} threads" if self.server == "gthread" else ""
        return f"gunicorn {version('gunicorn')} {self.server}, {self.workers} workers{threads}"


# --- The machine ---

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_info() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "cpu": _cpu_model(), "memory_gib": round(_memory_gib(), 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "django": version("Django"), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


# --- Processes: every one started here is stopped here ---

class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[str, subprocess.Popen[bytes], TextIO]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("w")
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.running.append((name, process, log))
        return process

    def groups(self) -> dict[str, int]:
        return {name: process.pid for name, process, _ in self.running}

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self) -> None:
        """SIGTERM each process group, wait, then SIGKILL what is left; never anything not started here."""
        # A process not yet reaped keeps its pid, so its group is still the one started here.
        for _, process, _ in self.running:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process, log in self.running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # the whole group: its workers too
                process.wait()
            log.close()
        self.running.clear()


def _group_cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the live processes of each process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {pgid: name for name, pgid in groups.items()}
    totals = dict.fromkeys(groups, 0.0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = names.get(int(fields[2]))  # fields: state, ppid, pgrp, ... utime (11), stime (12)
        if name is not None:
            totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def _pid_cpu_seconds(pids: list[int]) -> dict[int, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, stolen, total) jiffies of all cores since boot, from /proc/stat."""
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    total = sum(values)
    return total - values[3] - values[4], values[7], total


def _settle(processes: Processes, say: Callable[[str], None]) -> None:
    """Wait until every process started here is idle (workers done importing Django), at most 30 s."""
    deadline = time.monotonic() + 30
    before = sum(_group_cpu_seconds(processes.groups()).values())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(_group_cpu_seconds(processes.groups()).values())
        if now - before < 0.02:
            return
        before = now
    say("  (the servers were still busy after 30 s; measuring anyway)")


@dataclass
class CpuMeter:
    """CPU per request of each party during a phase: the server, the Celery worker, the load generator,
    and how busy the whole machine was (other people's work included)."""

    groups: dict[str, int]
    database_pids: Callable[[], list[int]] | None = None  # PostgreSQL's backends serving the bench database
    database_start: dict[int, float] = field(default_factory=dict)
    start: dict[str, float] = field(default_factory=dict)
    machine_start: tuple[int, int, int] = (0, 0, 0)
    children_start: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0
    machine_stolen: float = 0.0

    def __enter__(self) -> "CpuMeter":
        if self.database_pids is not None:
            self.database_start = _pid_cpu_seconds(self.database_pids())
        self.start = _group_cpu_seconds(self.groups)
        self.machine_start = _machine_ticks()
        times = os.times()
        self.children_start = times.children_user + times.children_system
        return self

    def __exit__(self, *exc: object) -> None:
        end = _group_cpu_seconds(self.groups)
        busy, stolen, total = _machine_ticks()
        times = os.times()
        self.seconds = {name: end[name] - self.start[name] for name in self.groups}
        self.seconds["load generator"] = times.children_user + times.children_system - self.children_start
        if self.database_pids is not None:  # backends that came and went in between are missed
            database_end = _pid_cpu_seconds(self.database_pids())
            self.seconds["PostgreSQL"] = sum(seconds - self.database_start.get(pid, 0.0)
                                             for pid, seconds in database_end.items())
        elapsed = max(1, total - self.machine_start[2])
        self.machine_busy = (busy - self.machine_start[0]) / elapsed
        self.machine_stolen = (stolen - self.machine_start[1]) / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(processes: Processes, name: str, process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited ({process.returncode}):\n{processes.log_tail(name)}")
        try:
            status, body = _get(port, "/healthz")
            if status == 200:
                return
            last = f"/healthz answered {status}: {body[:300]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BenchError(f"{name} was not ready in 60 s ({last}):\n{processes.log_tail(name)}")


# --- The database of this run ---

def _bench_database(url: str) -> tuple[str, str, str]:
    """(the bench database's URL, its name, the maintenance database's URL): never the configured one."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "govplatform"
    bench = name if name.endswith("_bench") else f"{name}_bench"
    return (urlunsplit(parts._replace(path=f"/{bench}")), bench,
            urlunsplit(parts._replace(path="/postgres", scheme="postgresql")))


def _postgres(maintenance_url: str, *statements: tuple[Any, tuple[Any, ...]]) -> list[Any]:
    import psycopg

    rows = []
    with psycopg.connect(maintenance_url, autocommit=True, connect_timeout=5) as conn:
        for statement, params in statements:
            cursor = conn.execute(statement, params)
            rows.append(cursor.fetchall() if cursor.description else None)
    return rows


def _database_recreate(maintenance_url: str, name: str) -> str:
    from psycopg import sql

    identifier = sql.Identifier(name)
    rows = _postgres(
        maintenance_url,
        (sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                 "AND pid <> pg_backend_pid()"), (name,)),
        (sql.SQL("DROP DATABASE IF EXISTS {}").format(identifier), ()),
        (sql.SQL("CREATE DATABASE {}").format(identifier), ()),
        (sql.SQL("SHOW server_version"), ()),
    )
    return f"PostgreSQL {rows[-1][0][0].split()[0]}"


def _database_pids(maintenance_url: str, name: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (their CPU is the database's share)."""
    from psycopg import sql

    rows = _postgres(maintenance_url, (sql.SQL("SELECT pid FROM pg_stat_activity WHERE datname = %s"), (name,)))
    return [row[0] for row in rows[0]]


def _database_drop(maintenance_url: str, name: str) -> None:
    from psycopg import sql

    _postgres(maintenance_url,
              (sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                       "AND pid <> pg_backend_pid()"), (name,)),
              (sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)), ()))


# --- Requests ---

_signing_key: Any = None


def _sign_init(key_file: str) -> None:
    global _signing_key
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool ends its workers with SIGTERM: not the bench's
    _signing_key = client.load_private_key(Path(key_file))


def _sign(task: tuple[str, str]) -> dict[str, str]:
    url, key_id = task
    message = client.sign_request(client.Message("GET", url, {"Accept": "application/json"}),
                                  private_key=_signing_key, key_id=key_id)
    return message.headers


def sign_requests(info: dict[str, Any], port: int, path: str, count: int) -> list[Request]:
    """``count`` reads signed as any consumer would (exchange.client), each with its own nonce, on every core."""
    url = f"http://127.0.0.1:{port}{path}"
    with get_context("fork").Pool(os.cpu_count() or 1, initializer=_sign_init, initargs=(info["key_file"],)) as pool:
        signed = pool.map(_sign, [(url, info["key_id"])] * count, chunksize=250)
    return [Request(path, headers) for headers in signed]


def check_samples(row: str, result: PhaseResult, requests: list[Request], info: dict[str, Any],
                  port: int, platform_key: Any) -> list[str]:
    """The kept responses must be the record's real answer (and, signed, verify with the platform key)."""
    problems = []
    for sample in result.samples:
        where = f"{row}: request {sample.index}"
        if sample.status != 200:
            problems.append(f"{where} answered {sample.status}: {sample.body[:200]!r}")
            continue
        try:
            fields = json.loads(sample.body)["fields"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"{where}: not the record's JSON: {sample.body[:200]!r}")
            continue
        if fields != info["expected"]:
            problems.append(f"{where}: fields {fields!r}, expected {info['expected']!r}")
        if row.startswith("signed"):
            headers = dict(sample.headers)
            if not headers.get("Audit-Event") or len(headers.get("Audit-Leaf-Hash", "")) != 64:
                problems.append(f"{where}: no audit receipt headers")
            request = requests[sample.index]
            response = client.SignedResponse(
                status_code=sample.status, headers=headers, body=sample.body,
                request=client.Message("GET", f"http://127.0.0.1:{port}{request.path}", dict(request.headers)))
            try:
                client.verify_response(response, platform_public_key=platform_key)
            except Exception as exc:  # any failure to verify is a wrong answer
                problems.append(f"{where}: the platform's signature does not verify: {exc}")
    if not result.samples:
        problems.append(f"{row}: no response was measured")
    return problems


# --- Figures ---

@dataclass
class Row:
    number: str
    title: str
    subject: str = ""
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    verdict: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class NotYetMeasurable(Exception):
    pass


@dataclass
class Run:
    """What a figure can use: the configuration, the phases measured, the platform's processes."""

    config: Config
    env: dict[str, str]
    setup_env: dict[str, str]
    info: dict[str, Any]
    phases: dict[str, list[PhaseResult]]
    extra: dict[str, Any] = field(default_factory=dict)

    def django_script(self, module: str, *args: str, broker: bool = False, timeout: float = 600) -> Any:
        """Run ``python -m module args`` under the bench settings; return its JSON output."""
        completed = subprocess.run([PY, "-m", module, *args], cwd=BASE_DIR, env=self.env if broker else self.setup_env,
                                   capture_output=True, text=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise BenchError(f"{module} failed ({completed.returncode}):\n{completed.stdout[-2000:]}\n"
                             f"{completed.stderr[-3000:]}")
        return json.loads(completed.stdout)


def _pooled(results: list[PhaseResult]) -> PhaseResult:
    latencies = sorted(x for r in results for x in r.latencies)
    statuses: Counter[int] = Counter()
    for r in results:
        statuses.update(r.statuses)
    sent = sum(r.sent for r in results)
    cpu_ms = {name: sum(r.cpu_ms.get(name, 0.0) * r.sent for r in results) / max(1, sent)
              for name in results[0].cpu_ms}
    return PhaseResult(requests=sum(r.requests for r in results), seconds=sum(r.seconds for r in results),
                       statuses=statuses, latencies=latencies, sent=sent, cpu_ms=cpu_ms,
                       machine_busy=sum(r.machine_busy for r in results) / len(results),
                       machine_stolen=sum(r.machine_stolen for r in results) / len(results))


def _describe(result: PhaseResult) -> str:
    return f"{result.rps:,.0f} req/s, p50 {result.percentile(50) * 1000:.1f} p99 {result.percentile(99) * 1000:.1f} ms"


def _phase_data(result: PhaseResult) -> dict[str, Any]:
    data = {"requests": result.requests, "seconds": round(result.seconds, 3), "rps": round(result.rps, 1),
            "p50_ms": round(result.percentile(50) * 1000, 2), "p90_ms": round(result.percentile(90) * 1000, 2),
            "p99_ms": round(result.percentile(99) * 1000, 2), "errors": result.errors,
            "statuses": {str(k): v for k, v in result.statuses.items()}}
    if result.cpu_ms:
        data["cpu_ms_per_request"] = {name: round(ms, 2) for name, ms in result.cpu_ms.items()}
        data["machine_busy"] = round(result.machine_busy, 3)
        data["machine_stolen"] = round(result.machine_stolen, 3)
    return data


def _verdict(ok: bool, stretch: bool = False) -> str:
    return ("meets target and stretch" if stretch else "meets target") if ok else "below target"


def figure_signed_vs_bare(run: Run) -> Row:
    signed, bare = _pooled(run.phases["signed"]), _pooled(run.phases["bare"])
    ratio = signed.rps / bare.rps
    per_round = [s.rps / b.rps for s, b in zip(run.phases["signed"], run.phases["bare"], strict=True)]
    return Row("1", "signed read / bare Django JSON view (throughput)", _describe(signed), _describe(bare), ratio,
               ">= 0.50 (stretch 0.70)", _verdict(ratio >= 0.5, ratio >= 0.7),
               {"signed": _phase_data(signed), "bare": _phase_data(bare), "ratio_per_round": per_round,
                "p50_ratio": signed.percentile(50) / bare.percentile(50),
                "p99_ratio": signed.percentile(99) / bare.percentile(99)})


def figure_signed_vs_token(run: Run) -> Row:
    signed, token = _pooled(run.phases["signed"]), _pooled(run.phases["token"])
    ratio = signed.rps / token.rps
    per_round = [s.rps / t.rps for s, t in zip(run.phases["signed"], run.phases["token"], strict=True)]
    return Row("1b", "signed read / DRF TokenAuthentication view (throughput)", _describe(signed), _describe(token),
               ratio, "about 0.70", _verdict(ratio >= 0.7),
               {"token": _phase_data(token), "ratio_per_round": per_round,
                "p50_ratio": signed.percentile(50) / token.percentile(50),
                "p99_ratio": signed.percentile(99) / token.percentile(99)})


def _audit_append(run: Run, number: str, title: str, suffix: str) -> Row:
    on, off = _pooled(run.phases["signed" + suffix]), _pooled(run.phases["signed-noaudit" + suffix])
    ratio = on.percentile(50) / off.percentile(50)
    per_round = [a.percentile(50) / b.percentile(50)
                 for a, b in zip(run.phases["signed" + suffix], run.phases["signed-noaudit" + suffix], strict=True)]
    return Row(number, title, _describe(on), _describe(off), ratio, "<= 1.10", _verdict(ratio <= 1.10),
               {"audit_on": _phase_data(on), "audit_skipped": _phase_data(off), "ratio_per_round": per_round,
                "throughput_ratio": on.rps / off.rps})


def figure_audit_append(run: Run) -> Row:
    return _audit_append(run, "2", "signed read, audit append on / skipped (p50, loaded)", "")


def figure_audit_append_unloaded(run: Run) -> Row:
    return _audit_append(run, "2u", "the same with 1 connection (p50, unloaded)", "-1")


def figure_bulk_lookup(run: Run) -> Row:
    """Figure 3 (bench/lookup_figure.py): signed bulk lookups of 1,000 keys and their one SQL query, one process."""
    calls = max(10, round(30 * run.config.scale))
    data = run.django_script("bench.lookup_figure", "--keys", "1000", "--calls", str(calls), broker=True)
    run.extra["bulk_lookup"] = data
    if data["found"] != data["keys"]:
        raise BenchError(f"the bulk lookup found {data['found']} of {data['keys']} records")
    return Row("3", "bulk lookup of 1,000 keys / one SQL query (p50 per call, one process)",
               f"{data['subject_ms']:.1f} ms a call",
               f"{data['baseline_ms']:.2f} ms", data["ratio"], "none set", "measured", data)


def figure_audit_verify(run: Run) -> Row:
    data = run.django_script("bench.audit_figure", "--events", str(run.config.audit_events))
    run.extra["audit"] = data
    return Row("4", f"audit verify of {data['events']:,} events / hashlib over the same leaves",
               f"{data['verify_seconds']:.2f} s ({data['verify_seconds'] / data['events'] * 1e6:.0f} us/event)",
               f"{data['hashlib_seconds']:.3f} s ({data['hashlib_seconds'] / data['events'] * 1e6:.1f} us/event)",
               data["ratio"], ">= 0.33", _verdict(data["ratio"] >= 1 / 3), data)


def figure_import(run: Run) -> Row:
    """Figure 5 (bench/import_figure.py): the platform's import and PostgreSQL's COPY, each in a child."""
    rows = run.config.import_rows
    data = run.django_script("bench.import_figure", "--rows", str(rows), timeout=3600)
    run.extra["import"] = data
    platform = data["platform"]
    subject = (f"{platform['rows_per_second']:,.0f} rows/s, {platform['seconds']:.1f} s, "
               f"peak {platform['peak_kib'] / 1024:.0f} MiB")
    title = f"import of {rows:,} CSV rows / PostgreSQL COPY (and peak memory)"
    if "copy" not in data:
        return Row("5", title, verdict=f"{subject} (+{platform['above_start_kib'] / 1024:.0f} MiB over Django's "
                                       "start); the COPY baseline is not measurable on SQLite")
    copy = data["copy"]
    baseline = f"{copy['rows_per_second']:,.0f} rows/s, {copy['seconds']:.1f} s, peak {copy['peak_kib'] / 1024:.0f} MiB"
    return Row("5", title, subject, baseline, data["ratio"], "none set", f"measured (memory ratio "
               f"{data['memory_ratio']:.1f}; +{platform['above_start_kib'] / 1024:.0f} MiB over Django's start)", data)


def figure_export(run: Run) -> Row:
    """Figure 6 (bench/export_figure.py): the platform's masked export and PostgreSQL's COPY TO, each in a child."""
    rows = run.config.import_rows
    data = run.django_script("bench.export_figure", "--rows", str(rows), timeout=3600)
    run.extra["export"] = data
    platform = data["platform"]
    subject = (f"{platform['rows_per_second']:,.0f} rows/s, {platform['seconds']:.1f} s, "
               f"peak {platform['peak_kib'] / 1024:.0f} MiB")
    title = f"export of {data['rows']:,} masked records / COPY ... TO STDOUT (and peak memory)"
    if "copy" not in data:
        return Row("6", title, verdict=f"{subject}; the COPY baseline is not measurable on SQLite")
    copy = data["copy"]
    baseline = f"{copy['rows_per_second']:,.0f} rows/s, {copy['seconds']:.1f} s, peak {copy['peak_kib'] / 1024:.0f} MiB"
    return Row("6", title, subject, baseline, data["ratio"], "none set", f"measured (memory ratio "
               f"{data['memory_ratio']:.1f}; +{platform['above_start_kib'] / 1024:.0f} MiB over Django's start)", data)


# number, title (for rows not yet measurable), the function measuring it
FIGURES: list[tuple[str, str, Callable[[Run], Row]]] = [
    ("1", "signed read / bare Django JSON view", figure_signed_vs_bare),
    ("1b", "signed read / DRF TokenAuthentication view", figure_signed_vs_token),
    ("2", "signed read, audit append on / skipped (p50, loaded)", figure_audit_append),
    ("2u", "the same with 1 connection (p50, unloaded)", figure_audit_append_unloaded),
    ("3", "bulk lookup of 1,000 keys / one SQL query", figure_bulk_lookup),
    ("4", "audit verify of N events / hashlib", figure_audit_verify),
    ("5", "import of 1,000,000 CSV rows / PostgreSQL COPY (and peak memory)", figure_import),
    ("6", "export of 1,000,000 masked records / COPY ... TO STDOUT (and peak memory)", figure_export),
]


# --- The run ---

def _phase_plan(config: Config) -> list[tuple[int, str]]:
    return [(round_, row) for round_ in range(config.rounds) for row in ROWS]


def measure(config: Config, info: dict[str, Any], ports: dict[str, int], processes: Processes,
            database_pids: Callable[[], list[int]] | None, say: Callable[[str], None]) -> dict[str, list[PhaseResult]]:
    platform_key = client.load_public_key(Path(info["platform_public_key"]))
    query = f"?fields={','.join(info['fields'])}"
    record = f"{info['dataset']}/{info['record_key']}{query}"
    signed_path = f"/api/v1/datasets/{info['dataset']}/records/{info['record_key']}{query}"
    accept = {"Accept": "application/json"}
    phases: dict[str, list[PhaseResult]] = {row: [] for row in ROWS}
    problems: list[str] = []
    window = config.warmup + config.duration
    for round_, row in _phase_plan(config):
        noaudit = "noaudit" in row
        port = ports["noaudit" if noaudit else "main"]
        connections = 1 if row.endswith("-1") else config.connections
        if row == "bare":
            requests, repeat = [Request(f"/bench/bare/{record}", accept)], True
        elif row == "token":
            requests, repeat = [Request(f"/bench/token/{record}", {**accept,
                                                                   "Authorization": f"Token {info['token']}"})], True
        else:
            # Enough signed requests for the whole phase at the fastest rate it can plausibly reach: that
            # of the token view just measured (a signed read does more), or with one connection, that of
            # the same server with eight.
            ceiling = phases[row.removesuffix("-1") if row.endswith("-1") else "token"][-1].rps
            count = int(ceiling * (window + 1) * 1.3) + 200
            started = time.monotonic()
            requests, repeat = sign_requests(info, port, signed_path, count), False
            if time.monotonic() - started + window > SIGNATURE_LIFETIME - 10:
                raise BenchError("signing took too long for the signatures' 60 s lifetime; lower BENCH_SCALE")
        server = "server-noaudit" if noaudit else "server-main"
        groups = {name: pgid for name, pgid in processes.groups().items() if name in (server, "celery")}
        with CpuMeter(groups, database_pids) as cpu:
            result = drive(port=port, requests=requests, repeat=repeat, limit=round(100_000 * config.scale),
                           connections=connections, warmup=config.warmup, duration=config.duration)
        # Over the whole phase (warm-up included), per request sent in it.
        sent = max(1, result.sent)
        names = {"server-main": "server", "server-noaudit": "server", "celery": "Celery worker"}
        result.cpu_ms = {names.get(name, name): seconds / sent * 1000 for name, seconds in cpu.seconds.items()}
        result.machine_busy, result.machine_stolen = cpu.machine_busy, cpu.machine_stolen
        phases[row].append(result)
        problems += check_samples(row, result, requests, info, port, platform_key)
        if result.errors:
            problems.append(f"{row}, round {round_ + 1}: {result.errors} answers were not 200: {dict(result.statuses)}")
        note = " (request list ran out: window shortened)" if result.exhausted else ""
        errors = f", {result.errors} ERRORS {dict(result.statuses)}" if result.errors else ""
        usage = ", ".join(f"{name} {ms:.1f}" for name, ms in result.cpu_ms.items())
        say(f"  round {round_ + 1} {ROW_TITLES[row]:<31} {_describe(result)}{errors}{note}\n"
            f"          CPU ms per request: {usage}; machine busy {result.machine_busy:.0%} "
            f"(stolen by the hypervisor {result.machine_stolen:.0%})")
    if problems:
        raise BenchError("wrong answers measured:\n  " + "\n  ".join(problems[:10]))
    return phases


def _drain_celery(redis_url: str, say: Callable[[str], None]) -> None:
    """Let the worker finish the sequencer wake-ups still queued before it is stopped (bounded)."""
    import redis

    connection = redis.Redis.from_url(redis_url, socket_timeout=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if connection.llen("celery") == 0 and connection.hlen("unacked") == 0:
            return
        time.sleep(0.5)
    say(f"  the Celery queue still held {connection.llen('celery')} tasks after 60 s")


def _redis_version(redis_url: str) -> str:
    import redis

    return f"Redis {redis.Redis.from_url(redis_url, socket_timeout=2).info('server')['redis_version']}"


def format_table(rows: list[Row]) -> str:
    width = {"n": 3, "title": 58, "subject": 38, "baseline": 38, "ratio": 6, "target": 23}
    header = (f"{'#':<{width['n']}} {'figure':<{width['title']}} {'measured':<{width['subject']}} "
              f"{'baseline':<{width['baseline']}} {'ratio':>{width['ratio']}}  {'target':<{width['target']}} verdict")
    lines = [header, "-" * (len(header) + 20)]
    for row in rows:
        if row.ratio is None:
            lines.append(f"{row.number:<{width['n']}} {row.title:<{width['title']}} {row.verdict}")
            continue
        rounds = row.data.get("ratio_per_round", [])
        spread = f" (rounds {min(rounds):.3f}-{max(rounds):.3f})" if len(rounds) > 1 else ""
        lines.append(f"{row.number:<{width['n']}} {row.title:<{width['title']}} {row.subject:<{width['subject']}} "
                     f"{row.baseline:<{width['baseline']}} {row.ratio:>{width['ratio']}.3f}  "
                     f"{row.target:<{width['target']}} {row.verdict}{spread}")
    return "\n".join(lines)


def format_cpu(phases: dict[str, list[PhaseResult]]) -> str:
    """CPU per request of each row: steadier than throughput on a machine that others share."""
    lines = ["CPU ms per request (whole phases; the load generator's own not included):"]
    for row in ROWS:
        cpu = _pooled(phases[row]).cpu_ms
        parts = [f"server {cpu.get('server', 0.0):.1f}"]
        if "Celery worker" in cpu:
            parts.append(f"Celery worker {cpu['Celery worker']:.1f}")
        if "PostgreSQL" in cpu:
            parts.append(f"PostgreSQL {cpu['PostgreSQL']:.1f}")
        total = sum(ms for name, ms in cpu.items() if name != "load generator")
        lines.append(f"  {ROW_TITLES[row]:<31} {total:5.1f} = " + " + ".join(parts))
    return "\n".join(lines)


def _finish(config: Config, run: Run, machine: dict[str, Any], rows: list[Row], started: float,
            say: Callable[[str], None]) -> int:
    """Print the table and write the JSON of the run."""
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    print("")
    print(format_table(rows))
    if run.phases:
        print(format_cpu(run.phases))
    if "profile" in run.extra:
        profile = run.extra["profile"]
        split = ", ".join(f"{name} {part['ms_per_read']:.2f}" for name, part in profile["split"].items())
        print(f"signed read in one process: {profile['plain_ms_per_read']:.2f} ms, "
              f"{len(profile['statements'])} SQL statements; split (ms): {split}")
    print(f"load average: {machine['load_average_at_start']} at start, {machine['load_average_at_end']} at end "
          f"(the load generator shares the {machine['cores']} cores with the server)")

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "postgresql" if config.database_url else "sqlite"
    path = RESULTS_DIR / f"{stamp}-{kind}.json"
    path.write_text(json.dumps({
        "when": stamp, "seconds": round(time.monotonic() - started, 1), "machine": machine,
        "config": {k: v for k, v in vars(config).items() if k not in ("database_url", "redis_url")},
        "figures": [vars(row) for row in rows],
        "phases": {row: [_phase_data(r) for r in results] for row, results in run.phases.items()},
        "profile": run.extra.get("profile"), "import": run.extra.get("import"), "export": run.extra.get("export"),
        "bulk_lookup": run.extra.get("bulk_lookup"),
    }, indent=2, default=str))
    say(f"results: {path.relative_to(BASE_DIR)} ({time.monotonic() - started:.0f} s)")
    return 0


def main() -> int:
    def on_signal(signum: int, _frame: Any) -> None:
        print(f"\nbench: {signal.Signals(signum).name}; stopping what it started", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
    try:
        config = Config.from_env()
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="govplatform-bench-"))
    processes = Processes(data_dir)
    database: tuple[str, str] | None = None  # (maintenance URL, name) of the database made here

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:4.0f} s] {text}" if text else "", flush=True)

    try:
        machine = machine_info()
        env = dict(os.environ)
        env.update(DJANGO_SETTINGS_MODULE="bench.settings", PLATFORM_DATA_DIR=str(data_dir),
                   PLATFORM_SIGNING_KEY_FILE=str(data_dir / "platform-signing-key.pem"),
                   ALLOWED_HOSTS="127.0.0.1,localhost,testserver", DEBUG="false",
                   # The load comes from one address and one system, far above the production limits: limits
                   # no run reaches keep every request served while their counting is measured.
                   EXCHANGE_RATE_PER_SOURCE="1000000000", EXCHANGE_RATE_PER_SYSTEM="1000000000")
        if config.database_url:
            bench_url, name, maintenance_url = _bench_database(config.database_url)
            database = (maintenance_url, name)
            machine["database"] = f"{_database_recreate(maintenance_url, name)} (database {name}, fresh)"
            env["DATABASE_URL"] = bench_url
        else:
            import sqlite3

            machine["database"] = f"SQLite {sqlite3.sqlite_version} (embedded default, fresh, in {data_dir})"
        if config.redis_url:
            machine["broker"] = f"{_redis_version(config.redis_url)} + a Celery worker (solo pool); Redis nonces"
        else:
            machine["broker"] = "none: Celery eager (the sequencer runs in the request), database nonces"
        machine["server"] = config.server_label()
        # Setup and the offline figures never touch the broker: nothing is left queued in Redis by them.
        setup_env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "NONCE_STORE")}
        ports = {"main": _free_port(), "noaudit": _free_port()}

        print(f"bench: scale {config.scale:g}, {config.rounds} rounds, {config.connections} connections, "
              f"{config.duration:g} s measured per phase after {config.warmup:g} s warm-up")
        print(f"machine: {machine['cores']} cores {machine['cpu']}, {machine['memory_gib']} GiB, {machine['os']}, "
              f"Python {machine['python']}, Django {machine['django']}")
        print(f"database: {machine['database']}\nbroker: {machine['broker']}\nserver: {machine['server']}")
        say("setup: migrate, platform_keygen, demo_setup")
        for command in (["migrate", "--noinput"], ["platform_keygen"],
                        ["demo_setup", "--base-url", f"http://127.0.0.1:{ports['main']}"]):
            completed = subprocess.run([PY, "manage.py", *command], cwd=BASE_DIR, env=setup_env,
                                       capture_output=True, text=True, timeout=300, check=False)
            if completed.returncode != 0:
                raise BenchError(f"manage.py {' '.join(command)} failed:\n{completed.stdout[-2000:]}\n"
                                 f"{completed.stderr[-3000:]}")
        run = Run(config=config, env=env, setup_env=setup_env, info={}, phases={})
        run.info = run.django_script("bench.prepare")
        if config.only == "import":
            return _finish(config, run, machine, [figure_import(run)], started, say)
        if config.only == "export":
            return _finish(config, run, machine, [figure_export(run)], started, say)

        gunicorn = [PY, "-m", "gunicorn", "--workers", str(config.workers), "--worker-class", config.server,
                    "--error-logfile", "-", "--log-level", "warning", "--timeout", "30", "--graceful-timeout", "5"]
        if config.server == "gthread":
            gunicorn += ["--threads", str(config.threads)]
        if config.redis_url:
            processes.start("celery", [PY, "-m", "celery", "-A", "govplatform.celery_app", "worker", "-P", "solo",
                                       "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            env)
        servers = {"main": "govplatform.wsgi:application", "noaudit": "bench.wsgi_noaudit:application"}
        for name, app in servers.items():
            process = processes.start(f"server-{name}", [*gunicorn, "--bind", f"127.0.0.1:{ports[name]}", app], env)
            _wait_ready(processes, f"server-{name}", process, ports[name])
        _settle(processes, say)
        for name, process, _ in processes.running:
            if process.poll() is not None:
                raise BenchError(f"{name} exited ({process.returncode}):\n{processes.log_tail(name)}")

        say("load: " + ", ".join(ROW_TITLES[row] for row in ROWS) + ", each round in that order")
        database_pids = functools.partial(_database_pids, *database) if database is not None else None
        run.phases = measure(config, run.info, ports, processes, database_pids, say)
        if config.profile:
            say("profile: the signed read in one process (bench.profile_read)")
            run.extra["profile"] = run.django_script("bench.profile_read", broker=True)
        if config.redis_url:
            _drain_celery(config.redis_url, say)
        processes.stop_all()

        say("audit: topping the log up and verifying it (bench.audit_figure)")
        rows = []
        for number, title, function in FIGURES:
            try:
                rows.append(function(run))
            except NotYetMeasurable as reason:
                rows.append(Row(number, title, verdict=f"not yet measurable: {reason}"))
        return _finish(config, run, machine, rows, started, say)
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping what it started", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
        if not config.keep:
            if database is not None:
                try:
                    _database_drop(*database)
                except Exception as exc:  # cleanup must not hide the run's own outcome
                    print(f"bench: could not drop {database[1]}: {exc}", file=sys.stderr)
            shutil.rmtree(data_dir, ignore_errors=True)
        elif database is not None:
            print(f"bench: kept database {database[1]} and data folder {data_dir}", file=sys.stderr)
