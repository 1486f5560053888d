"""A closed-loop HTTP load generator for loopback, standard library only.

``connections`` processes (not threads: no GIL between the connections) each hold one keep-alive
``http.client`` connection, reconnecting when the server closes it (gunicorn's sync worker closes
after every response). They take requests from one shared list in order, so each pre-signed request
(fresh nonce) is sent exactly once, or cycle through the list up to ``limit`` requests when it is
marked ``repeat``. A phase has a warm-up (sent, not counted) and a measured window, and is bounded in
count and time: it stops when the window ends or the requests run out, and each request has a socket
timeout. Every request's start and
end time and status are kept; a few complete responses per connection are kept for checking.

Only loopback is ever a target: ``drive`` refuses any other host.
"""

import contextlib
import http.client
import ipaddress
import multiprocessing
import multiprocessing.connection
import signal
import socket
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class Sample:
    """A whole response kept for checking (the first few measured ones of each connection)."""

    index: int
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class PhaseResult:
    requests: int
    seconds: float
    statuses: Counter[int]
    latencies: list[float]  # seconds, measured window only, sorted
    samples: list[Sample] = field(default_factory=list)
    exhausted: bool = False  # the request list ran out before the window ended
    sent: int = 0  # requests sent in the whole phase, warm-up included
    cpu_ms: dict[str, float] = field(default_factory=dict)  # filled in by the caller
    machine_busy: float = 0.0
    machine_stolen: float = 0.0

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        if not self.latencies:
            return float("nan")
        rank = max(1, min(len(self.latencies), round(p / 100 * len(self.latencies) + 0.5)))
        return self.latencies[rank - 1]


def _worker(port: int, requests: list[Request], total: int, next_index: Any, go: Any, times: Any,
            keep_samples: int, timeout: float, out: multiprocessing.connection.Connection) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole group: the parent reports it
        _send_all(port, requests, total, next_index, go, times, keep_samples, timeout, out)


def _send_all(port: int, requests: list[Request], total: int, next_index: Any, go: Any, times: Any,
              keep_samples: int, timeout: float, out: multiprocessing.connection.Connection) -> None:
    go.wait()
    start_at, measure_at, end_at = times[0], times[1], times[2]
    while time.perf_counter() < start_at:
        time.sleep(0.0005)
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    starts, ends, statuses = array("d"), array("d"), array("i")
    samples: list[Sample] = []
    exhausted = False
    while True:
        begin = time.perf_counter()
        if begin >= end_at:
            break
        with next_index.get_lock():
            index = next_index.value
            next_index.value += 1
        if index >= total:
            exhausted = True
            break
        request = requests[index % len(requests)]
        try:
            conn.request("GET", request.path, headers=request.headers)
            response = conn.getresponse()
            body = response.read()
            status = response.status
            headers = response.getheaders() if begin >= measure_at and len(samples) < keep_samples else []
        except (OSError, http.client.HTTPException):
            conn.close()
            status, body, headers = 0, b"", []
        finish = time.perf_counter()
        if begin >= measure_at:
            starts.append(begin)
            ends.append(finish)
            statuses.append(status)
            if len(samples) < keep_samples:
                samples.append(Sample(index=index, status=status, headers=headers, body=body))
    conn.close()
    out.send((starts.tobytes(), ends.tobytes(), statuses.tobytes(), samples, exhausted))
    out.close()


def drive(*, port: int, requests: list[Request], repeat: bool = False, limit: int = 100_000, connections: int = 8,
          warmup: float = 2.0, duration: float = 8.0, keep_samples: int = 2, timeout: float = 10.0) -> PhaseResult:
    """Run one phase against ``127.0.0.1:port``; return the measured window's figures."""
    total = limit if repeat else len(requests)
    if not ipaddress.ip_address(socket.gethostbyname(LOOPBACK)).is_loopback:
        raise RuntimeError("the load generator only targets loopback")
    context = multiprocessing.get_context("fork")
    next_index = context.Value("q", 0)
    times = context.Array("d", 3)
    go = context.Event()
    workers = []
    for _ in range(connections):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(port, requests, total, next_index, go, times,
                                                        keep_samples, timeout, send), daemon=True)
        process.start()
        send.close()
        workers.append((process, receive))
    start_at = time.perf_counter() + 0.3  # every process is forked and waiting by then
    times[0], times[1], times[2] = start_at, start_at + warmup, start_at + warmup + duration
    go.set()
    deadline = times[2] + timeout + 10
    starts, ends, statuses = array("d"), array("d"), array("i")
    samples: list[Sample] = []
    exhausted = False
    try:
        for _process, receive in workers:
            if not receive.poll(max(0.0, deadline - time.perf_counter())):
                raise RuntimeError("a load generator process did not finish in time")
            raw_starts, raw_ends, raw_statuses, worker_samples, worker_exhausted = receive.recv()
            starts.frombytes(raw_starts)
            ends.frombytes(raw_ends)
            statuses.frombytes(raw_statuses)
            samples.extend(worker_samples)
            exhausted = exhausted or worker_exhausted
    finally:
        for process, receive in workers:
            receive.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
    measure_at = times[1]
    seconds = (max(ends) - measure_at) if ends else 0.0
    return PhaseResult(requests=len(starts), seconds=seconds, statuses=Counter(statuses),
                       latencies=sorted(end - begin for begin, end in zip(starts, ends, strict=True)),
                       samples=samples, exhausted=exhausted,
                       sent=min(next_index.value, total))
