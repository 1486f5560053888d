"""``make bench-load``: the platform under ten times the demo's expected traffic, for ten minutes.

The production shape on loopback: PostgreSQL (a database of its own, ``<name>_load``, made afresh and
dropped), Redis, gunicorn, a Celery worker and Celery beat, all started and stopped here. Locust
(bench/locustfile.py) plays the consumer systems: good, refused and unsigned calls, paced. Meanwhile the
memory of the server and the worker and the sequencer's backlog are sampled. The run passes when:

- no answer is a 5xx other than the documented fail-closed 503s, and each kind of call got its answer;
- memory is flat: the last sample is within 10 % (plus 16 MiB) of the one taken after the warm-up;
- the sequencer keeps up: its backlog stays bounded and is empty within 60 s of the load's end;
- every 2xx answer's audit event (its ``Audit-Event`` receipt) is committed, and no read event exists for
  a read that was not served;
- ``audit_verify`` passes on the log the run wrote.

``BENCH_LOAD_RESTART_COMMAND`` (e.g. ``pg_ctlcluster 15 main restart -m fast``) is run half-way through:
PostgreSQL restarted under load. The same checks hold; the answers while it is down must be documented
fail-closed 503s.

The expected traffic is the demo's own (demo/requests.json): the daily volumes its requests declare,
all in one working day of 8 hours, the busiest hour at three times the average. Settings (environment):
``DATABASE_URL``, ``REDIS_URL`` (both needed), ``BENCH_LOAD_SECONDS`` (600), ``BENCH_LOAD_FACTOR`` (10),
``BENCH_LOAD_USERS`` (simulated systems, 8). The figures are printed and written to
``bench/results/load-<time>.json``; bench/README.md keeps the last full run's.
"""

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .run import (
    BASE_DIR,
    PY,
    RESULTS_DIR,
    BenchError,
    Processes,
    _database_drop,
    _database_recreate,
    _env_number,
    _free_port,
    _postgres,
    _wait_ready,
    machine_info,
)

#: The refusals the platform documents as failing closed: a 503 with one of these codes is an answer.
FAIL_CLOSED = {"nonce_store_unavailable", "rate_limit_unavailable", "audit_unavailable", "signing_key_unavailable",
               "unavailable"}
EXPECTED = {"good": 200, "refused": 403, "unsigned": 401}
WORKING_DAY_SECONDS, BUSIEST_HOUR = 8 * 3600, 3.0
SAMPLE_EVERY = 5.0


def expected_rate() -> float:
    """The demo's expected signed calls per second in its busiest hour."""
    requests = json.loads((BASE_DIR / "demo" / "requests.json").read_text())
    entries = requests if isinstance(requests, list) else requests.get("requests", [])
    daily = sum(int(entry.get("expected_daily_volume") or 0) for entry in entries)
    return daily / WORKING_DAY_SECONDS * BUSIEST_HOUR


def _load_database(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'govplatform'}_load"
    return (urlunsplit(parts._replace(path=f"/{name}")), name,
            urlunsplit(parts._replace(path="/postgres", scheme="postgresql")))


def _rss_mib(pid: int) -> float:
    """Resident memory of a process group's leader and its children (gunicorn's workers), MiB."""
    import psutil

    try:
        leader = psutil.Process(pid)
        processes = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


class Sampler(threading.Thread):
    """Every few seconds: the memory of each process group and the sequencer's backlog."""

    def __init__(self, groups: dict[str, int], database_url: str) -> None:
        super().__init__(daemon=True)
        self.groups, self.database_url = groups, database_url
        self.samples: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.started_at = time.monotonic()

    def backlog(self) -> int:
        rows = _postgres(self.database_url, (
            "SELECT (SELECT count(*) FROM audit_auditevent) - COALESCE((SELECT size FROM audit_logstate "
            "WHERE id = 1), 0)", ()))
        return int(rows[0][0][0])

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_EVERY):
            try:
                backlog = self.backlog()
            except Exception as exc:  # the database restarting (BENCH_LOAD_RESTART_COMMAND): no sample this time
                print(f"  sampler: no sample ({type(exc).__name__})", flush=True)
                continue
            sample: dict[str, Any] = {"t": round(time.monotonic() - self.started_at, 1), "backlog": backlog}
            sample.update({f"{name}_mib": round(_rss_mib(pid), 1) for name, pid in self.groups.items()})
            self.samples.append(sample)


def served_reads(database_url: str) -> set[str]:
    rows = _postgres(database_url, ("SELECT uid::text FROM audit_auditevent WHERE action = 'record.read' "
                                    "AND outcome = 'ok'", ()))
    return {row[0] for row in rows[0]}


def judge(tally: dict[str, int], samples: list[dict[str, Any]], drained_in: float | None, verify_ok: bool,
          groups: list[str], answered: list[str], recorded: set[str]) -> tuple[list[str], dict[str, Any]]:
    """The run's verdicts, and the figures they rest on."""
    problems = []
    missing, unserved = set(answered) - recorded, recorded - set(answered)
    if missing or len(answered) != len(set(answered)):
        problems.append(f"{len(missing)} answers served (2xx) name no committed audit event, "
                        f"e.g. {sorted(missing)[:3]}")
    if unserved:
        problems.append(f"{len(unserved)} read events exist for reads not served, e.g. {sorted(unserved)[:3]}")
    unexpected = {}
    for key, count in tally.items():
        kind, status, *code = key.split(" ")
        if int(status) == EXPECTED[kind]:
            continue
        if int(status) == 503 and code and code[0] in FAIL_CLOSED:
            continue
        unexpected[key] = count
    if unexpected:
        problems.append(f"answers other than expected or a documented fail-closed 503: {unexpected}")
    for kind in EXPECTED:
        if not any(key.startswith(f"{kind} {EXPECTED[kind]}") for key in tally):
            problems.append(f"no {kind} call got its {EXPECTED[kind]}")
    memory = {}
    if len(samples) >= 4:
        early = samples[max(1, len(samples) // 5)]  # after the warm-up
        last = samples[-1]
        for name in groups:
            start, end = early[f"{name}_mib"], last[f"{name}_mib"]
            peak = max(sample[f"{name}_mib"] for sample in samples)
            memory[name] = {"after_warmup_mib": start, "end_mib": end, "max_mib": peak}
            if end > start * 1.10 + 16:
                problems.append(f"{name} memory grew from {start} MiB to {end} MiB")
    else:
        problems.append("too few samples to judge memory: run longer")
    backlog_max = max((s["backlog"] for s in samples), default=0)
    if drained_in is None:
        problems.append("the sequencer's backlog did not empty within 60 s of the load's end")
    if not verify_ok:
        problems.append("audit_verify failed")
    return problems, {"memory": memory, "backlog_max": backlog_max, "drained_in_s": drained_in,
                      "served_2xx": len(answered), "read_events": len(recorded)}


def main() -> int:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not (database_url.startswith("postgres") and redis_url):
        print("bench-load: needs DATABASE_URL (PostgreSQL) and REDIS_URL: the production shape", file=sys.stderr)
        return 2
    try:
        seconds = _env_number("BENCH_LOAD_SECONDS", 600, minimum=20, maximum=86400)
        factor = _env_number("BENCH_LOAD_FACTOR", 10, minimum=0.1, maximum=1000)
        users = int(_env_number("BENCH_LOAD_USERS", 8, minimum=1, maximum=1000))
    except BenchError as exc:
        print(f"bench-load: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:4.0f} s] {text}", flush=True)

    data_dir = Path(tempfile.mkdtemp(prefix="govplatform-load-"))
    processes = Processes(data_dir)
    load_url, name, maintenance_url = _load_database(database_url)
    try:
        database = _database_recreate(maintenance_url, name)
        env = dict(os.environ)
        # The load comes from one address as one system: limits far above it keep the production path measured
        # (the limits' counting still runs on every call).
        env.update(DJANGO_SETTINGS_MODULE="bench.settings", PLATFORM_DATA_DIR=str(data_dir), DATABASE_URL=load_url,
                   PLATFORM_SIGNING_KEY_FILE=str(data_dir / "platform-signing-key.pem"), DEBUG="false",
                   ALLOWED_HOSTS="127.0.0.1,localhost", EXCHANGE_RATE_PER_SOURCE="1000000000",
                   EXCHANGE_RATE_PER_SYSTEM="1000000000")
        port = _free_port()
        rate = expected_rate() * factor
        say(f"{database} ({name}, fresh); target {rate:.1f} calls/s ({factor:g} x the demo's {expected_rate():.2f}) "
            f"from {users} systems for {seconds:g} s")
        setup_env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "NONCE_STORE")}
        for command in (["migrate", "--noinput"], ["platform_keygen"],
                        ["demo_setup", "--base-url", f"http://127.0.0.1:{port}"]):
            done = subprocess.run([PY, "manage.py", *command], cwd=BASE_DIR, env=setup_env, capture_output=True,
                                  text=True, timeout=300, check=False)
            if done.returncode != 0:
                raise BenchError(f"manage.py {' '.join(command)} failed:\n{done.stderr[-3000:]}")
        info = json.loads(subprocess.run([PY, "-m", "bench.prepare"], cwd=BASE_DIR, env=setup_env, capture_output=True,
                                         text=True, timeout=300, check=True).stdout)

        celery = [PY, "-m", "celery", "-A", "govplatform.celery_app"]
        subprocess.run([*celery, "purge", "-f"], cwd=BASE_DIR, env=env, capture_output=True, timeout=60, check=False)
        processes.start("worker", [*celery, "worker", "-P", "solo", "-l", "warning", "--without-gossip",
                                   "--without-mingle", "--without-heartbeat"], env)
        processes.start("beat", [*celery, "beat", "-l", "warning", "--schedule", str(data_dir / "beat-schedule")], env)
        server = processes.start("server", [PY, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
                                            "--threads", "4", "--bind", f"127.0.0.1:{port}", "--error-logfile", "-",
                                            "--log-level", "warning", "govplatform.wsgi:application"], env)
        _wait_ready(processes, "server", server, port)
        groups = {name_: pid for name_, pid in processes.groups().items() if name_ in ("server", "worker")}
        sampler = Sampler(groups, load_url.replace("postgres://", "postgresql://", 1))
        sampler.start()

        report = data_dir / "tally.json"
        say("load: locust, headless, on loopback")
        locust_env = {**env, "BENCH_KEY_FILE": info["key_file"], "BENCH_KEY_ID": info["key_id"],
                      "BENCH_RECORD_PATH": f"/api/v1/datasets/{info['dataset']}/records/{info['record_key']}",
                      "BENCH_GOOD_FIELDS": ",".join(info["fields"]),
                      "BENCH_REFUSED_FIELDS": f"{info['fields'][0]},full_name",
                      "BENCH_RATE_PER_USER": str(rate / users), "BENCH_LOAD_REPORT": str(report)}
        restart = os.environ.get("BENCH_LOAD_RESTART_COMMAND", "").split()
        restarted: dict[str, Any] = {}

        def restart_database() -> None:
            time.sleep(seconds / 2)
            say(f"fault: {' '.join(restart)}")
            done = subprocess.run(restart, capture_output=True, text=True, timeout=120, check=False)
            restarted.update(command=" ".join(restart), returncode=done.returncode, stderr=done.stderr[-500:])
            say(f"fault: the database is back ({done.returncode})")

        restarter = threading.Thread(target=restart_database, daemon=True) if restart else None
        if restarter is not None:
            restarter.start()
        locust = subprocess.run(
            [PY, "-m", "locust", "-f", str(BASE_DIR / "bench" / "locustfile.py"), "--headless", "--users", str(users),
             "--spawn-rate", str(users), "--run-time", f"{int(seconds)}s", "--host", f"http://127.0.0.1:{port}",
             "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            cwd=BASE_DIR, env=locust_env, capture_output=True, text=True, timeout=seconds + 300, check=False)
        if locust.returncode != 0 or not report.exists():
            raise BenchError(f"locust failed ({locust.returncode}):\n{locust.stderr[-3000:]}")
        if restarter is not None:
            restarter.join()
            if restarted.get("returncode") != 0:
                raise BenchError(f"the restart command failed: {restarted}")
        answers = json.loads(report.read_text())
        tally = answers["tally"]
        load_end = time.monotonic()
        drained_in = None
        while time.monotonic() - load_end < 60:
            if sampler.backlog() == 0:
                drained_in = round(time.monotonic() - load_end, 1)
                break
            time.sleep(0.5)
        sampler.stopping.set()
        sampler.join()
        processes.stop_all()

        say("audit_verify on the log the run wrote")
        verify = subprocess.run([PY, "manage.py", "audit_verify", "--sequence-first"], cwd=BASE_DIR, env=setup_env,
                                capture_output=True, text=True, timeout=600, check=False)
        problems, figures = judge(tally, sampler.samples, drained_in, verify.returncode == 0, list(groups),
                                  answers["served_events"], served_reads(sampler.database_url))
        total = sum(tally.values())
        result = {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine_info(),
            "database": database, "seconds": seconds, "factor": factor, "users": users,
            "expected_rate": round(expected_rate(), 3), "target_rate": round(rate, 2),
            "achieved_rate": round(total / seconds, 2), "answers": tally, **figures, "fault": restarted or None,
            "audit_verify": verify.stdout.strip().splitlines()[-2:], "samples": sampler.samples, "problems": problems,
        }
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"load-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(result, indent=1))
        print(f"\ncalls: {total} in {seconds:g} s = {total / seconds:.1f}/s (target {rate:.1f}/s)")
        for key in sorted(tally):
            print(f"  {key:<40} {tally[key]}")
        for group, memory in figures["memory"].items():
            print(f"memory {group}: {memory['after_warmup_mib']} MiB after warm-up, {memory['end_mib']} MiB at the end"
                  f" (max {memory['max_mib']})")
        print(f"sequencer backlog: max {figures['backlog_max']} events; empty {drained_in} s after the load")
        print(f"2xx answers: {figures['served_2xx']}; committed read events: {figures['read_events']}")
        print("audit_verify: " + " ".join(result["audit_verify"]))
        print(f"results: {out.relative_to(BASE_DIR)}")
        if problems:
            print("\nbench-load FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print("bench-load: OK")
        return 0
    except (BenchError, subprocess.SubprocessError) as exc:
        print(f"\nbench-load: {exc}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
        try:
            _database_drop(maintenance_url, name)
        except Exception as exc:  # cleanup must not hide the run's own outcome
            print(f"bench-load: could not drop {name}: {exc}", file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
