"""Where the signed read's time goes, and the SQL it runs.

``python -m bench.profile_read`` under the bench settings, against a database ``make bench`` prepared
(``make bench`` runs it after the load phases, on the same database, broker and settings). It sends
pre-signed reads straight to the platform's WSGI application (``govplatform.wsgi``: every middleware,
no HTTP server), in one process:

1. one read inside ``CaptureQueriesContext``: the SQL statements it runs, listed;
2. ``--requests`` reads timed, with the time split (exclusive, nothing counted twice) between SQL
   round trips, the ORM's own work, the nonce store, the request signature's verification
   (``http-message-signatures``), the response's signature, the audit event, the sequencer wake-up
   and JSON rendering; the rest is Django's middleware, DRF and the exchange's own code;
3. the same reads under ``cProfile``: the functions with the most time of their own, by package
   (cProfile slows Python code more than C code, so read these shares with 2. beside them).

Prints JSON. ``--text`` prints a readable summary instead.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

# Exclusive timers: a stack of open sections; a section's time excludes the sections opened inside it.
_totals: dict[str, float] = defaultdict(float)
_counts: dict[str, int] = defaultdict(int)
_stack: list[list[Any]] = []


@contextmanager
def _section(name: str) -> Iterator[None]:
    entry = [name, time.perf_counter(), 0.0]  # name, start, time of nested sections
    _stack.append(entry)
    try:
        yield
    finally:
        _stack.pop()
        elapsed = time.perf_counter() - entry[1]
        _totals[name] += elapsed - entry[2]
        _counts[name] += 1
        if _stack:
            _stack[-1][2] += elapsed


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _section(name):
            return function(*args, **kwargs)

    return wrapper


def _install_timers() -> None:
    """Wrap the read's parts where the exchange looks them up (this process only)."""
    from django.db import connections
    from django.db.models.query import QuerySet
    from django.db.models.sql.compiler import SQLInsertCompiler
    from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier

    import audit.services
    import exchange.gateway
    import registry.httpsig
    import registry.nonces
    from core.rendering import ORJSONRenderer

    orm = "ORM: building queries, making model objects"
    QuerySet._fetch_all = _timed(orm, QuerySet._fetch_all)  # type: ignore[method-assign]
    SQLInsertCompiler.execute_sql = _timed(orm, SQLInsertCompiler.execute_sql)  # type: ignore[method-assign]
    HTTPMessageVerifier.verify = _timed("request signature verify (http-message-signatures, Ed25519)",  # type: ignore[method-assign]
                                        HTTPMessageVerifier.verify)
    HTTPMessageSigner.sign = _timed("response signature (http-message-signatures, Ed25519)",  # type: ignore[method-assign]
                                    HTTPMessageSigner.sign)
    registry.httpsig.nonce_claim = _timed("nonce store", registry.nonces.nonce_claim)
    exchange.gateway.audit_or_fail_closed = _timed(
        "audit event (fields, canonical JSON, leaf hash)", exchange.gateway.audit_or_fail_closed)
    audit.services._wake_sequencer = _timed(
        "sequencer wake-up (Celery publish; eager: the sequencer itself)", audit.services._wake_sequencer)
    ORJSONRenderer.render = _timed("JSON rendering", ORJSONRenderer.render)  # type: ignore[method-assign]

    round_trips = "SQL round trips (statements and COMMIT)"

    def sql(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        with _section(round_trips):
            return execute(sql, params, many, context)

    database = connections["default"]
    database.execute_wrappers.append(sql)
    database._commit = _timed(round_trips, database._commit)  # type: ignore[method-assign]


def wsgi_environ(method: str, path: str, query: str, headers: dict[str, str], body: bytes = b"") -> dict[str, Any]:
    """A WSGI environ for a request sent straight to the application (no HTTP server): its signed headers as
    ``HTTP_*``, a JSON body's type and length as WSGI names them."""
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": HOST,
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
           "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
           "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "REMOTE_ADDR": HOST}
    for name, value in headers.items():
        if name.lower() == "content-type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + name.upper().replace("-", "_")] = value
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    env["HTTP_HOST"] = HOST
    return env


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--text", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.prepare import prepare_data
    from exchange import client
    from govplatform.wsgi import application  # the production WSGI module, under the bench settings

    info = prepare_data()
    private_key = client.load_private_key(Path(info["key_file"]))
    path = f"/api/v1/datasets/{info['dataset']}/records/{info['record_key']}"
    query = "fields=" + ",".join(info["fields"])
    url = f"http://{HOST}{path}?{query}"

    def environ() -> dict[str, Any]:
        message = client.sign_request(client.Message("GET", url, {"Accept": "application/json"}),
                                      private_key=private_key, key_id=info["key_id"])
        return wsgi_environ("GET", path, query, message.headers)

    def call(env: dict[str, Any]) -> None:
        status: list[str] = []
        response = application(env, lambda s, h, exc_info=None: status.append(s))
        try:
            body = b"".join(response)
        finally:
            response.close()  # request_finished, as a server would
        if not status or not status[0].startswith("200") or b'"fields"' not in body:
            raise RuntimeError(f"the signed read failed: {status} {body[:300]!r}")

    for _ in range(20):  # warm: connections, caches, the platform key
        call(environ())
    with CaptureQueriesContext(connection) as captured:
        call(environ())
    statements = [q["sql"] for q in captured.captured_queries]

    environs = [environ() for _ in range(args.requests)]  # signing is the client's work: not timed
    start = time.perf_counter()
    for env in environs[: args.requests // 2]:
        call(env)
    plain_ms = (time.perf_counter() - start) / (args.requests // 2) * 1000

    _install_timers()
    start = time.perf_counter()
    for env in environs[args.requests // 2:]:
        with _section("the rest: Django's middleware, DRF, the exchange's own code"):
            call(env)
    timed = args.requests - args.requests // 2
    timed_ms = (time.perf_counter() - start) / timed * 1000
    split = {name: {"ms_per_read": total / timed * 1000, "calls_per_read": _counts[name] / timed}
             for name, total in sorted(_totals.items(), key=lambda item: -item[1])}

    profiler = cProfile.Profile()
    more = [environ() for _ in range(args.requests // 2)]
    profiler.enable()
    for env in more:
        call(env)
    profiler.disable()
    by_package: dict[str, float] = defaultdict(float)
    stats = pstats.Stats(profiler)
    total = 0.0
    top = []
    for (filename, line, function), (_, calls, tottime, _cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
        total += tottime
        top.append((tottime, calls, f"{_short(filename)}:{line}({function})"))
    top.sort(reverse=True)
    result = {
        "statements": statements,
        "plain_ms_per_read": plain_ms,
        "timed_ms_per_read": timed_ms,
        "split": split,
        "cprofile_share_by_package": {name: seconds / total for name, seconds in
                                      sorted(by_package.items(), key=lambda item: -item[1])[:12]},
        "cprofile_top": [{"share": t / total, "calls_per_read": c / len(more), "function": f} for t, c, f in top[:15]],
    }
    if args.text:
        print(render_text(result))
    else:
        json.dump(result, sys.stdout)
    return 0


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins and C extensions (crypto, DB drivers, orjson)"
    short = _short(filename)
    top = short.split("/", 1)[0]
    if "site-packages/" in filename:
        return top
    if top in {"audit", "catalog", "core", "exchange", "registry", "govplatform", "bench"}:
        return f"platform: {top}"
    return "Python standard library"


def render_text(result: dict[str, Any]) -> str:
    lines = [f"SQL statements in one signed read: {len(result['statements'])}"]
    lines += [f"  {i}. {sql}" for i, sql in enumerate(result["statements"], 1)]
    lines.append(f"In-process time per read: {result['plain_ms_per_read']:.2f} ms "
                 f"({result['timed_ms_per_read']:.2f} ms with the section timers), split:")
    for name, part in result["split"].items():
        lines.append(f"  {part['ms_per_read']:6.2f} ms  {part['ms_per_read'] / result['timed_ms_per_read']:5.1%}  "
                     f"{name} ({part['calls_per_read']:.0f} per read)")
    lines.append("cProfile, own time by package:")
    for name, share in result["cprofile_share_by_package"].items():
        lines.append(f"  {share:5.1%}  {name}")
    lines.append("cProfile, functions with the most own time:")
    for entry in result["cprofile_top"]:
        lines.append(f"  {entry['share']:5.1%}  {entry['calls_per_read']:6.1f}/read  {entry['function']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
