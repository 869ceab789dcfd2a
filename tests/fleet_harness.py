"""Real worker processes, real Redis: the harness the fleet, operator and chaos tests share."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from app.local_fleet import port_free
from tests.conftest import PYTHON, ROOT, cli_env

SHARED_REDIS = os.environ.get("CLAUDE_WORKERS_TEST_REDIS", "redis://127.0.0.1:6379")


#: recovery timings as settings, so a test that kills workers waits seconds, not RQ's minutes
#: (the mechanism is the same; only the numbers are smaller than production's defaults)
FAST_RECOVERY = {
    "CLAUDE_EXECUTION_GRACE": "3",
    "CLAUDE_JOB_MONITORING_INTERVAL": "2",
    "CLAUDE_MAINTENANCE_INTERVAL": "5",
    "CLAUDE_WORKER_TTL": "20",
}

#: tests that use the guide's fixed ports (8080-8089, the embedded Redis's 6399) run one at a time,
#: whichever pytest-xdist worker runs them: ``@GUIDE_PORTS`` on each (the fixture is in tests/conftest.py)
GUIDE_PORTS = pytest.mark.usefixtures("guide_ports")

#: the key by which the suite marks a database of the shared server as its own
TEST_DB_MARKER = "claude-workers:test-database"


def find_empty_db(base: str = SHARED_REDIS) -> str:
    """A database of the shared server that is empty or already marked as this suite's (never db 0).

    Only a database carrying the marker is flushed, so nothing the suite did not write is touched.
    Each pytest-xdist worker gets its own database (15 for gw0 or a serial run, 14 for gw1, ...):
    a worker flushing at its start must not wipe what another one is running.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    db = 15 - int(worker.removeprefix("gw") or 0)
    if db < 1:
        raise RuntimeError(f"pytest-xdist worker {worker} has no test database (the suite uses 15 down to 1)")
    url = f"{base}/{db}"
    conn = Redis.from_url(url)
    if conn.dbsize() and not conn.exists(TEST_DB_MARKER):
        raise RuntimeError(
            f"Redis database {db} of {base} holds data that is not this suite's; the tests will not flush it. "
            "Point CLAUDE_WORKERS_TEST_REDIS at another server, or empty that database yourself."
        )
    conn.flushdb()
    conn.set(TEST_DB_MARKER, "tests and benchmarks of claude-workers; flushed at each run")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ports_free(ports: list[int]) -> bool:
    """Whether every one of ``ports`` can be bound on 127.0.0.1 now."""
    return all(port_free(port) for port in ports)


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str | Callable[[], str] = "condition"
) -> Any:
    """``predicate``'s first truthy value; ``what`` (or what it returns, at the timeout) names the wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


@dataclass
class Fleet:
    redis_url: str
    prefix: str
    config_dir: Path
    logs: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conn(self) -> Redis:
        return Redis.from_url(self.redis_url)

    def settings_env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis_url,
            "CLAUDE_WORKERS_PREFIX": self.prefix,
            "CLAUDE_CONFIG_DIR": str(self.config_dir),
            "CLAUDE_PRELOAD_API_ENGINE": "false",
            "CLAUDE_WORKSPACE_ROOT": str(self.config_dir.parent / "workspaces"),
            **self.env,
        }

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        # a port of its own: the guide's 8080-8089 belong to the tests that play the guide (GUIDE_PORTS),
        # which may run at the same time as this one on another pytest-xdist worker
        if "HEALTH_PORT" not in self.env:
            env.setdefault("HEALTH_PORT", str(free_port()))
        with open(self.logs / f"worker-{n}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [PYTHON, "-m", "app", "worker", *args],
                env=cli_env(**{**self.settings_env(), **env}),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,  # its own group: killing it takes its horse and the CLI along
            )
        self.procs.append(proc)
        return proc

    def start_workers(self, n: int, **env: str) -> list[subprocess.Popen[bytes]]:
        procs = [self.start_worker(**env) for _ in range(n)]
        wait_until(lambda: self.worker_count() >= n, 30, what=f"{n} workers to register")
        return procs

    def worker_count(self) -> int:
        try:
            return int(self.conn.scard(f"rq:workers:{self.prefix}"))
        except redis.RedisError:
            return 0

    def enqueue(self, n: int = 1, **spec: Any) -> list[str]:
        from app.jobs.spec import JobSpec
        from app.jobs.submit import enqueue
        from app.settings import Settings

        settings = Settings(_env_file=None, **{k.lower(): v for k, v in self.settings_env().items()})  # type: ignore[call-arg]
        ids = []
        for i in range(n):
            job, _ = enqueue(self.conn, settings, JobSpec(prompt=spec.pop("prompt", f"say OK {i}"), **spec))
            ids.append(job.id)
        return ids

    def finished(self) -> int:
        return FinishedJobRegistry(self.prefix, connection=self.conn).count

    def finished_ids(self) -> list[str]:
        return list(FinishedJobRegistry(self.prefix, connection=self.conn).get_job_ids())

    def failed(self) -> int:
        return FailedJobRegistry(self.prefix, connection=self.conn).count

    def job(self, job_id: str) -> Job:
        return Job.fetch(job_id, connection=self.conn)

    def gate(self) -> dict[str, str]:
        raw = self.conn.hgetall(f"{self.prefix}:fleet")
        return {k.decode(): v.decode() for k, v in raw.items()}

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def kill_group(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # not a group leader, or gone: signal the process itself
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill_group(proc)
                proc.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # any horse or CLI left in the group

    def cleanup_keys(self) -> None:
        with contextlib.suppress(redis.RedisError):
            conn = self.conn
            for key in conn.scan_iter(f"*{self.prefix}*"):
                conn.delete(key)


LOG_TAIL = 150


@contextlib.contextmanager
def running_fleet(redis_url: str, tmp_path: Path, **env: str) -> Iterator[Fleet]:
    prefix = f"cwt-{uuid.uuid4().hex[:8]}"
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config_dir = Path(os.environ["CLAUDE_CONFIG_DIR"])
    fleet = Fleet(redis_url, prefix, config_dir, logs, dict(env))
    try:
        yield fleet
    except BaseException:
        # what the workers said is the first thing a failed CI run needs; pytest shows it with the failure
        print(f"--- worker logs (last {LOG_TAIL} lines) ---\n" + "\n".join(fleet.log_text().splitlines()[-LOG_TAIL:]))
        raise
    finally:
        fleet.stop()
        fleet.cleanup_keys()


class RedisServer:
    """A redis-server of the test's own, with AOF, that the test may kill and restart."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.extra = list(extra)  # more redis-server options, e.g. "--maxmemory", "2mb"
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.dir),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: _pings(self.url), 10, what="redis-server to start")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)


def _pings(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False
